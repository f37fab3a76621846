// The tuning entry points: the library's autotune() and the run the CLI's
// `qtune tune` drives (local or under mpirun).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "common/json.h"
#include "storage/results_db.h"
#include "tuner/tuning_config.h"

namespace qtune {

struct TuneOptions {
  std::filesystem::path out_dir = "qtune-out";  ///< results.db and best/ go here
  std::filesystem::path cache_dir;              ///< empty = default_cache_dir()
  bool resume = false;                          ///< continue the run in out_dir
  bool progress = false;                        ///< trial k of n and ETA on stderr
  bool print_table = true;                      ///< results table on stdout at the end
  bool json = false;                            ///< print a JSON summary instead of the table
};

struct TuneSummary {
  int64_t run_id = 0;
  Json baseline;                      ///< {"metric","value","latency_ms_p50",...}
  std::optional<TrialRecord> best;    ///< best trial meeting the constraints, if any
  std::vector<TrialRecord> trials;    ///< every trial of the run, in index order
  std::filesystem::path db_path;
  std::filesystem::path best_dir;     ///< out_dir/best when a best exists
};

/// Runs a whole tuning job. Under mpirun (size > 1) every rank calls this:
/// rank 0 coordinates and writes the database, the others work; only rank 0's
/// summary is meaningful. Without mpirun the caller's process does both.
TuneSummary run_tuning(const TuningConfig& config, const TuneOptions& options);

}  // namespace qtune
