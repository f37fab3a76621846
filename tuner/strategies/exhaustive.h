// Every trial of the space, in space order: one generation.
#pragma once

#include "tuner/strategy.h"

namespace qtune {

class ExhaustiveStrategy : public Strategy {
 public:
  using Strategy::Strategy;

 protected:
  std::vector<int64_t> propose() override;
};

}  // namespace qtune
