// Random search: max_trials configs drawn without replacement from the whole
// expanded space with the run's seed, in one generation (nothing it proposes
// depends on a result).
#pragma once

#include "tuner/strategy.h"

namespace qtune {

class RandomStrategy : public Strategy {
 public:
  using Strategy::Strategy;

 protected:
  std::vector<int64_t> propose() override;
};

}  // namespace qtune
