// `qtune db compare`: the trials of two runs side by side, matched by their
// config identity (the canonical config's hash), so the same quantization
// recorded on two machines, models or sample counts lines up.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "storage/results_db.h"

namespace qtune {

struct ComparedConfig {
  std::string config_hash;
  std::optional<TrialRecord> a, b;  ///< absent: the config is not in that run
};

/// A's trials in index order, each with B's trial of the same config_hash, then
/// B's trials that A does not hold, in index order.
std::vector<ComparedConfig> compare_runs(const std::vector<TrialRecord>& a,
                                         const std::vector<TrialRecord>& b);

/// [{"config_hash", "algorithm", "config", "a": trial|null, "b": trial|null,
///   "diff": {"accuracy", "accuracy_loss", "latency_ms_p50", "size_bytes"}}]:
/// trials as `qtune db trials --json` gives them; each diff is B - A, null
/// unless both sides hold the value.
Json compared_to_json(const std::vector<ComparedConfig>& rows);

/// An aligned table: config, then trial/accuracy/size/p50 of A and of B, then
/// the B - A differences ("-" where a side is missing). Ends with a newline.
std::string format_compare_table(const std::vector<ComparedConfig>& rows);

}  // namespace qtune
