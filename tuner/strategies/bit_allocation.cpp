#include "tuner/strategies/bit_allocation.h"

#include <algorithm>

#include "common/error.h"

namespace qtune {

BitAllocator::BitAllocator(std::vector<std::vector<AllocationOption>> layers)
    : layers_(std::move(layers)) {
  std::vector<Point> current{{0, 0.0, -1, 0}};
  for (size_t l = 0; l < layers_.size(); ++l) {
    QT_ASSERT(!layers_[l].empty(), "layer ", l, " has no allocation option");
    std::vector<Point> next;
    next.reserve(current.size() * layers_[l].size());
    for (size_t p = 0; p < current.size(); ++p)
      for (size_t o = 0; o < layers_[l].size(); ++o)
        next.push_back({current[p].cost + layers_[l][o].cost, current[p].loss + layers_[l][o].loss,
                        static_cast<int64_t>(p), o});
    // Stable: among equal (cost, loss) the first generated, i.e. the lowest
    // earlier choices then the lowest option, survives -- deterministic ties.
    std::stable_sort(next.begin(), next.end(), [](const Point& a, const Point& b) {
      return a.cost != b.cost ? a.cost < b.cost : a.loss < b.loss;
    });
    std::vector<Point> kept;
    for (const Point& pt : next)
      if (kept.empty() || pt.loss < kept.back().loss) kept.push_back(pt);
    steps_.push_back(current);
    current = std::move(kept);
  }
  frontier_ = std::move(current);
}

std::optional<Allocation> BitAllocator::solve(int64_t budget) const {
  // The frontier's loss falls as cost rises: the last point within budget is best.
  auto it = std::upper_bound(frontier_.begin(), frontier_.end(), budget,
                             [](int64_t b, const Point& p) { return b < p.cost; });
  if (it == frontier_.begin()) return std::nullopt;
  const Point& best = *std::prev(it);
  Allocation a;
  a.cost = best.cost;
  a.loss = best.loss;
  a.choice.assign(layers_.size(), 0);
  const Point* p = &best;
  for (size_t l = layers_.size(); l-- > 0;) {
    a.choice[l] = p->option;
    p = &steps_[l][static_cast<size_t>(p->parent)];
  }
  return a;
}

}  // namespace qtune
