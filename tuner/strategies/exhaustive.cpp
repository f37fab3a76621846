#include "tuner/strategies/exhaustive.h"

namespace qtune {

std::vector<int64_t> ExhaustiveStrategy::propose() {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < num_trials(); ++i)
    if (!was_proposed(i)) out.push_back(i);
  return out;
}

}  // namespace qtune
