#include "tuner/strategies/first_pass.h"

namespace qtune {

void FirstPassStrategy::observe(const TrialRecord& record) {
  if (record.passed.value_or(false) && (!lowest_pass_ || record.index < *lowest_pass_))
    lowest_pass_ = record.index;
}

}  // namespace qtune
