// Human-readable views of trials: the results table `qtune tune` prints at
// the end and `qtune db trials` reuses, and the one-line trial description
// used in progress lines.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json.h"
#include "storage/results_db.h"

namespace qtune {

/// metrics.task of a strategy's probe trial (Strategy::is_probe: one layer
/// quantized alone, to measure its sensitivity): a kind of task of its own,
/// beside the candidates (which have no task), never chosen as the best.
inline constexpr const char* kSensitivityTask = "sensitivity";
inline bool is_sensitivity_probe(const TrialRecord& t) {
  return t.metrics.is_object() && t.metrics.value("task", "") == kSensitivityTask;
}

/// "bits=4 group_size=32" from a trial config's params, in key order: a
/// param is shown when its key is in `varying` (it differs between the trials
/// being shown) or its value is not the algorithm's default, so the columns
/// are not drowned in defaults. "overrides=N" / "fp32=N" are added when
/// present; a config with nothing to show reads "defaults".
std::string describe_params(const Json& trial_config, const std::set<std::string>& varying = {});

/// Param keys whose values differ between `configs` (trial config JSONs) of
/// the same algorithm.
std::set<std::string> varying_params(const std::vector<Json>& configs);

/// An aligned table, one row per trial, columns:
///   trial  algorithm  parameters  backend  accuracy  loss  p50 ms  size  status
/// status is PASS / fail for completed trials (probe for a sensitivity probe),
/// else FAILED / TIMEOUT / RUNNING.
/// The row whose id is `best_id` is marked with '*'. Ends with a newline.
std::string format_trials_table(const std::vector<TrialRecord>& trials,
                                std::optional<int64_t> best_id = std::nullopt);

/// "12.3 KiB" style size.
std::string human_bytes(int64_t bytes);

}  // namespace qtune
