// A trial as data: its config and its result are plain JSON values, so they
// travel over MPI as strings and land in SQLite unchanged (DESIGN.md
// "Contracts"). The canonical form of a config has a stable hash: the same
// trial is never run twice in a run, and resume knows what is done.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/json.h"
#include "quantizers/quantizer.h"

namespace qtune {

/// Keys sorted at every level (nlohmann::json, not ordered_json), compact dump():
/// two configs that differ only in key order have the same canonical string.
std::string canonical_json(const Json& value);

/// 64-bit FNV-1a of the canonical string, as 16 lower-case hex digits.
std::string fnv1a_hex(const std::string& bytes);
std::string config_hash(const Json& config);
inline std::string config_hash(const QuantConfig& config) { return config_hash(config.to_json()); }

/// The data a trial is scored on: the run's evaluation set (every candidate),
/// or its calibration set (mixed-bits' sensitivity probes: the windows that
/// choose among the candidates then played no part in choosing their widths).
enum class ScoredOn { kEvaluation, kCalibration };
const char* scored_on_name(ScoredOn on);  ///< "evaluation" | "calibration"
/// From scored_on_name(); qtune::Error for anything else.
ScoredOn scored_on_from_name(const std::string& name);

/// What a worker sends back for one trial. Accuracy loss and pass/fail are
/// decided by the coordinator, which alone knows the baseline and constraints.
struct TrialResult {
  int64_t index = -1;              ///< position in the expanded search space
  std::string config_hash;         ///< of the config the worker ran (checked by the coordinator)
  std::string status;              ///< COMPLETED | FAILED | TIMEOUT
  std::string error;               ///< why, when not COMPLETED
  std::optional<double> accuracy;  ///< the evaluator's value (its metric is in metrics)
  std::optional<double> latency_ms_p50, latency_ms_p90, latency_spread;
  std::optional<int64_t> size_bytes;
  int rank = 0;
  std::string host;
  std::string started_at, ended_at;  ///< iso8601_utc_now() (storage/results_db.h), with ms
  double seconds = 0;                ///< wall time of the trial
  Json metrics = Json::object();     ///< everything else: metric name, latency details, layers

  Json to_json() const;
  static TrialResult from_json(const Json& j);  ///< internal messages: a bad one is a bug
};

/// This machine's host name.
std::string host_name();

}  // namespace qtune
