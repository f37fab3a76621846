// The tuning entry points: the library's autotune() and the run the CLI's
// `qtune tune` drives (local or under mpirun).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "common/json.h"
#include "models/evaluator.h"
#include "models/model.h"
#include "quantizers/quantizer.h"
#include "storage/results_db.h"
#include "tuner/farm_cost.h"
#include "tuner/tuning_config.h"

namespace qtune {

struct TuneOptions {
  std::filesystem::path out_dir = "qtune-out";  ///< results.db and best/ go here
  std::filesystem::path cache_dir;              ///< empty = default_cache_dir()
  bool resume = false;                          ///< continue the run in out_dir
  bool progress = false;                        ///< trial k of n and ETA on stderr
  bool print_table = true;                      ///< results table on stdout at the end
  bool json = false;                            ///< print a JSON summary instead of the table
  /// run_tuning only (`qtune tune` turns it on unless --no-isolation), and
  /// only when the config's `isolation` is not false: each trial and the
  /// baseline run in a forked child of their worker, so a crash fails the
  /// trial, not the run. Off by default: a process that has already
  /// run multi-threaded ATen work must not fork (tuner/child_process.h), and
  /// autotune() never forks the caller's process.
  bool isolation = false;
  /// Under mpirun, rank 0 sends the model and data files to every other node
  /// (tuner/input_broadcast.h); off (--no-broadcast) every rank reads its own
  /// filesystem, as nodes that share one may prefer.
  bool broadcast = true;
  /// Threads per trial on each rank; 0 = the rank's share of its node's
  /// cores. Recorded results do not depend on it (models/work_units.h).
  int threads = 0;
};

/// One format of a config's `export:` applied to the saved best model.
struct ExportOutcome {
  std::string format;
  std::filesystem::path written;   ///< OUT/export/F (F.gguf for a file format); empty on failure
  std::vector<std::string> notes;  ///< the exporter's report
  std::string error;               ///< one line when the export failed, else empty
};

struct TuneSummary {
  int64_t run_id = 0;
  Json baseline;                    ///< {"metric","value","latency_ms_p50",...}
  std::optional<TrialRecord> best;  ///< best trial meeting the constraints, if any
  std::vector<TrialRecord> trials;  ///< every trial of the run, in index order
  std::filesystem::path db_path;
  std::filesystem::path best_dir;  ///< out_dir/best when a best exists
  int64_t trials_run = 0;          ///< trials executed by this call (not resumed ones)
  int64_t trials_skipped = 0;      ///< finished in an earlier run and not re-run (resume)
  bool timed_out = false;          ///< the run's timeout stopped the hand-out of trials
  /// The best trial's accuracy re-measured on the re-materialized model; equal
  /// to best->accuracy unless something is non-deterministic (then a warning is
  /// printed and the best trial's metrics carry "rematerialize_mismatch": true).
  std::optional<double> rematerialized_accuracy;
  bool is_coordinator = true;  ///< false on MPI worker ranks (the rest is empty)
  /// The config's exports, in its order (none when no trial was saved). A
  /// failed one leaves the database and best/ as they are.
  std::vector<ExportOutcome> exports;
  bool export_failed() const;
  /// What the farm cost rank 0 in this call (tuner/farm_cost.h).
  FarmCost farm;
  /// Under mpirun with the broadcast on (tuner/input_broadcast.h): {"nodes",
  /// "files","bytes","seconds","skipped"}, what rank 0 sent to each other
  /// node; null otherwise.
  Json broadcast;

  /// {"run_id","db","baseline","best": trial json|null,"best_dir","trials":[...],
  ///  "trials_run","trials_skipped","timed_out","rematerialized_accuracy",
  ///  "exports":[{"format","written","notes"} | {"format","error"}], "farm": FarmCost,
  ///  "broadcast"}
  Json to_json() const;
};

/// Runs a whole tuning job. Under mpirun (detected from OMPI_COMM_WORLD_SIZE /
/// PMI_SIZE; MPI is initialized and finalized in here) every rank calls this:
/// rank 0 coordinates and writes the database, the others work; only rank 0's
/// summary is meaningful (is_coordinator). Without mpirun the caller's process
/// does both. Errors: a bad config or out_dir/results.db, or --resume with no
/// matching run ("OUT/results.db: no run with this config to resume") throw
/// qtune::Error before any trial runs; under MPI the CLI's handler aborts the job.
/// An export that fails is recorded in the summary's exports (and printed on
/// stderr), not thrown: the run's records and best/ stay.
TuneSummary run_tuning(const TuningConfig& config, const TuneOptions& options);

struct AutotuneResult {
  TuneSummary summary;
  ModelPtr best_model;  ///< the best trial re-materialized; null when none passed
};

/// The library entry: tunes the user's in-memory `model` in this process
/// (never MPI) with the user's evaluator, recording to out_dir/results.db and
/// saving out_dir/best exactly as run_tuning does. config.model is ignored
/// (model.spec() is recorded). The first calibration batch (cut to
/// config.latency_batch rows) is also the latency input, so at least one
/// calibration batch is required.
AutotuneResult autotune(const Model& model, const TuningConfig& config, const EvalFn& evaluate,
                        const CalibrationData& calibration, const TuneOptions& options = {});

}  // namespace qtune
