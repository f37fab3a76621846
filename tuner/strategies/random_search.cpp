#include "tuner/strategies/random_search.h"

#include <algorithm>
#include <numeric>

#include "tuner/strategies/seeded_rng.h"

namespace qtune {

std::vector<int64_t> RandomStrategy::propose() {
  if (num_proposed() > 0) return {};
  std::vector<int64_t> order(static_cast<size_t>(num_trials()));
  std::iota(order.begin(), order.end(), 0);
  SeededRng rng(options_.seed);
  rng.shuffle(order);
  order.resize(static_cast<size_t>(std::min<int64_t>(budget_, num_trials())));
  return order;
}

}  // namespace qtune
