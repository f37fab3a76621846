// The mixed-bit allocation as a multiple-choice knapsack: each layer takes
// exactly one of its options (a bit width), each with a cost (stored bits)
// and a loss (its measured sensitivity); the losses add up, the costs must
// fit a budget, the total loss is minimized.
//
// Solved exactly by dynamic programming over the Pareto frontier of partial
// assignments (cost, loss): layer by layer, every frontier point is extended
// by every option of the next layer and dominated points are dropped. A
// budget is then answered by the cheapest-loss frontier point within it, so
// one solve serves every budget. Exact for any costs (no discretization of
// the budget); the frontier holds at most one point per distinct total cost.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace qtune {

struct AllocationOption {
  int64_t cost = 0;  ///< e.g. stored bits of the layer at this width
  double loss = 0;   ///< e.g. accuracy loss with this layer alone at this width
};

struct Allocation {
  std::vector<size_t> choice;  ///< per layer, the position of its chosen option
  int64_t cost = 0;
  double loss = 0;
};

class BitAllocator {
 public:
  /// `layers[l]` lists layer l's options (at least one each).
  explicit BitAllocator(std::vector<std::vector<AllocationOption>> layers);
  /// The least total loss with total cost <= budget (ties: the smaller cost,
  /// then the first found in option order); nullopt when even the cheapest
  /// assignment exceeds the budget.
  std::optional<Allocation> solve(int64_t budget) const;
  /// Points of the final frontier (cost strictly up, loss strictly down).
  size_t frontier_size() const { return frontier_.size(); }

 private:
  struct Point {
    int64_t cost;
    double loss;
    int64_t parent;  ///< position in the previous layer's frontier
    size_t option;
  };
  std::vector<std::vector<AllocationOption>> layers_;
  std::vector<std::vector<Point>> steps_;  ///< frontier after each layer
  std::vector<Point> frontier_;
};

}  // namespace qtune
