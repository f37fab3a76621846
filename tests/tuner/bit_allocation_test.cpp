// The mixed-bit allocator against brute force over every assignment, on
// small random instances (fixed seeds), at budgets on and beside every
// reachable total cost.
#include "tuner/strategies/bit_allocation.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <set>

namespace qtune {
namespace {

using Instance = std::vector<std::vector<AllocationOption>>;

Instance random_instance(size_t layers, std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> n_options(1, 4);
  std::uniform_int_distribution<int64_t> cost(1, 40);
  // Losses of either sign (a probe may measure a gain within noise), with
  // repeats so that ties occur.
  std::uniform_int_distribution<int> loss(-3, 12);
  Instance inst(layers);
  for (auto& opts : inst) {
    const size_t n = n_options(rng);
    for (size_t o = 0; o < n; ++o) opts.push_back({cost(rng), loss(rng) * 0.125});
  }
  return inst;
}

struct Best {
  bool found = false;
  double loss = std::numeric_limits<double>::infinity();
  int64_t cost = 0;
};

// Every assignment, losses summed in layer order as the solver sums them.
Best brute_force(const Instance& inst, int64_t budget, std::set<int64_t>* costs) {
  Best best;
  std::vector<size_t> pick(inst.size(), 0);
  while (true) {
    int64_t c = 0;
    double l = 0;
    for (size_t k = 0; k < inst.size(); ++k) {
      c += inst[k][pick[k]].cost;
      l += inst[k][pick[k]].loss;
    }
    if (costs) costs->insert(c);
    if (c <= budget && (!best.found || l < best.loss || (l == best.loss && c < best.cost)))
      best = {true, l, c};
    size_t k = 0;
    while (k < inst.size() && ++pick[k] == inst[k].size()) pick[k++] = 0;
    if (k == inst.size()) break;
  }
  return best;
}

TEST(BitAllocator, MatchesBruteForceOnRandomInstances) {
  int checked = 0, feasible = 0;
  for (size_t layers : {1, 2, 3, 5, 7}) {
    for (uint64_t seed = 1; seed <= 12; ++seed) {
      std::mt19937_64 rng(seed * 1000 + layers);
      const Instance inst = random_instance(layers, rng);
      const BitAllocator solver(inst);
      std::set<int64_t> costs;
      brute_force(inst, 0, &costs);
      std::set<int64_t> budgets;
      for (int64_t c : costs) budgets.insert({c - 1, c, c + 1});  // on and beside each boundary
      for (int64_t budget : budgets) {
        SCOPED_TRACE("layers " + std::to_string(layers) + ", seed " + std::to_string(seed) +
                     ", budget " + std::to_string(budget));
        const Best want = brute_force(inst, budget, nullptr);
        const auto got = solver.solve(budget);
        ++checked;
        ASSERT_EQ(got.has_value(), want.found);
        if (!got) continue;
        ++feasible;
        EXPECT_EQ(got->loss, want.loss);
        EXPECT_EQ(got->cost, want.cost) << "ties go to the smaller cost";
        ASSERT_EQ(got->choice.size(), layers);
        int64_t c = 0;
        double l = 0;
        for (size_t k = 0; k < layers; ++k) {
          ASSERT_LT(got->choice[k], inst[k].size());
          c += inst[k][got->choice[k]].cost;
          l += inst[k][got->choice[k]].loss;
        }
        EXPECT_EQ(c, got->cost) << "the choices add up to the reported cost";
        EXPECT_EQ(l, got->loss);
        EXPECT_LE(c, budget);
      }
    }
  }
  EXPECT_GT(feasible, 500) << "of " << checked;
  EXPECT_LT(feasible, checked) << "some budgets are below the cheapest assignment";
}

TEST(BitAllocator, BudgetExactlyAtTheCostOfTheBetterAssignmentTakesIt) {
  // Layer 0: 2 bits (cost 20, loss 0.5) or 4 bits (cost 40, loss 0.1);
  // layer 1: 2 bits (cost 10, loss 0.3) or 4 bits (cost 20, loss 0.05).
  const BitAllocator solver({{{20, 0.5}, {40, 0.1}}, {{10, 0.3}, {20, 0.05}}});
  EXPECT_FALSE(solver.solve(29).has_value());
  const auto cheapest = solver.solve(30);
  ASSERT_TRUE(cheapest);
  EXPECT_EQ(cheapest->choice, (std::vector<size_t>{0, 0}));
  const auto at40 = solver.solve(40);  // {0,1}: 40, 0.55 beats {1,0}: 50 (over)
  ASSERT_TRUE(at40);
  EXPECT_EQ(at40->choice, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(solver.solve(49)->choice, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(solver.solve(50)->choice, (std::vector<size_t>{1, 0}));  // 0.4 < 0.55
  EXPECT_EQ(solver.solve(60)->choice, (std::vector<size_t>{1, 1}));
  EXPECT_EQ(solver.frontier_size(), 4u);
}

}  // namespace
}  // namespace qtune
