// Judging a trial against the constraints, and picking the best trial.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "storage/results_db.h"
#include "tuner/tuning_config.h"

namespace qtune {

struct Verdict {
  std::optional<double>
      accuracy_loss;  ///< vs the baseline, relative or absolute per the constraints
  bool passed = false;
  std::string reason;  ///< why it did not pass, short and stable ("accuracy loss 1.2% > 1%")
};

/// `baseline` is the run's {"value", "higher_is_better", ...}. Relative loss is
/// (base - acc) / base, absolute is base - acc (signs flipped when lower is
/// better); a trial passes when it COMPLETED, its loss <= max_accuracy_loss
/// and its p50 latency, size and bits per weight (tuner/bits_per_weight.h;
/// none when no layer is quantized) meet the optional limits.
Verdict judge_trial(const std::string& status, std::optional<double> accuracy,
                    std::optional<double> latency_ms_p50, std::optional<int64_t> size_bytes,
                    const Json& baseline, const Constraints& constraints,
                    std::optional<double> bits_per_weight = std::nullopt);

/// Latencies within this fraction of the fastest passing trial count as tied:
/// CPU timing noise between trials is of this order, and we would rather not
/// let noise pick between a small and a large model (TF_AUTOTUNE_EPSILON-like).
constexpr double kLatencyTieTolerance = 0.05;

/// True when `a` dominates `b` over (accuracy loss, size, p50 latency), each
/// lower-is-better: `a` is no worse in all three and strictly better in one.
/// Exact comparisons, no tolerance: two trials with equal numbers do not
/// dominate each other. A missing value counts as the worst (+infinity).
bool dominates(const TrialRecord& a, const TrialRecord& b);

/// Positions in `trials` of the Pareto front: the trials that passed (COMPLETED
/// and met the constraints) and that no other passing trial dominates, in input
/// order. Duplicates (equal in all three) are all kept.
std::vector<size_t> pareto_front(const std::vector<TrialRecord>& trials);

/// The best trial among those that passed (COMPLETED and passed), or nullopt.
///  - objective "size":     smallest size_bytes; ties -> higher accuracy, then lower index.
///  - objective "accuracy": highest accuracy; ties -> smaller size, then lower index.
///  - objective "latency":  every trial whose p50 is within kLatencyTieTolerance of the
///    minimum p50 is tied; among those the smallest size wins, then the lower index.
///  - objective "pareto": the trial of the Pareto front that `select` (size, accuracy or
///    latency) prefers, by the rules above applied to the front alone.
///  - strategy "first-pass": the lowest passing index, whatever the objective
///    (INC's rule: the first config that meets the constraints, as a sequential run finds it).
/// Returns the position in `trials`.
std::optional<size_t> select_best(const std::vector<TrialRecord>& trials,
                                  const std::string& objective, const std::string& strategy,
                                  const std::string& select = "size");

}  // namespace qtune
