// INC's first-pass ("basic" with timeout=0): stop at the first config that
// meets the constraints. Under parallel execution trials end out of order,
// so "first" means the LOWEST INDEX that passes, as in a sequential run:
// once index p passes, no index above p is handed out, and the run waits for
// the lower indices still in flight (one of them may pass and win instead).
#pragma once

#include "tuner/strategies/exhaustive.h"

namespace qtune {

class FirstPassStrategy : public ExhaustiveStrategy {
 public:
  using ExhaustiveStrategy::ExhaustiveStrategy;
  /// The lowest passing index seen so far.
  std::optional<int64_t> lowest_pass() const { return lowest_pass_; }

 protected:
  bool wanted(int64_t index) const override { return !lowest_pass_ || index < *lowest_pass_; }
  void observe(const TrialRecord& record) override;

 private:
  std::optional<int64_t> lowest_pass_;
};

}  // namespace qtune
