// The SQLite record of tuning runs. Only the coordinator (rank 0) writes it.
//
// Schema (version in table schema_version, migrations in results_db.cpp):
//   runs(id, started_at, ended_at, status RUNNING|COMPLETED|FAILED|INTERRUPTED,
//        model, config_json, config_hash, baseline_json, best_trial_id, host)
//   trials(id, run_id, idx, config_json, config_hash,
//          status PENDING|RUNNING|COMPLETED|FAILED|TIMEOUT, algorithm, backend, accuracy,
//          accuracy_loss, latency_ms_p50, latency_ms_p90, latency_spread, size_bytes, passed,
//          error, rank, host, started_at, ended_at, metrics_json, UNIQUE(run_id, config_hash))
//   run_signatures(run_id, signature_json)   (version 2: what --resume compares, besides
//          the config: {"model_hash","data_hash"}, tuner/run_signature.h)
// WAL mode and a busy timeout so a reader (`qtune db`) never breaks a live run.
// Each trial is committed when it ends, so a killed run loses nothing finished.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace qtune {

struct RunRecord {
  int64_t id = 0;
  std::string started_at, ended_at, status;
  std::string model;
  Json config;  ///< the tuning config as parsed
  std::string config_hash;
  Json baseline;  ///< {"metric":..., "value":..., "latency_ms_p50":..., "size_bytes":...}
  std::optional<int64_t> best_trial_id;
  std::string host;
};

struct TrialRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  int64_t index = 0;  ///< position in the expanded search space
  Json config;        ///< canonical trial config
  std::string config_hash;
  std::string status;  ///< COMPLETED | FAILED | TIMEOUT | RUNNING
  std::string algorithm, backend;
  std::optional<double> accuracy, accuracy_loss, latency_ms_p50, latency_ms_p90, latency_spread;
  std::optional<int64_t> size_bytes;
  std::optional<bool> passed;
  std::string error;
  int rank = 0;
  std::string host;
  std::string started_at, ended_at;
  Json metrics = Json::object();  ///< everything else the trial measured
  Json to_json() const;           ///< the `qtune db trials --json` form
};

class ResultsDb {
 public:
  enum class Mode { kReadOnly, kReadWrite };
  /// When a commit is durable (SQLite's `synchronous` in WAL mode).
  /// kOsHasIt (NORMAL): in the operating system's hands when the commit
  /// returns, on disk at the next checkpoint: survives a killed qtune, a power
  /// loss may take back the last commits. kOnDisk (FULL): an fsync per commit,
  /// survives a power loss too; what that costs depends on the disk
  /// (bench/suites/bench_results_db.cpp measures both).
  enum class Durability { kOsHasIt, kOnDisk };
  /// Opens (creating and migrating in kReadWrite). A file that is not a qtune
  /// database, or a newer schema, is a qtune::Error naming the file.
  ResultsDb(const std::filesystem::path& path, Mode mode,
            Durability durability = Durability::kOsHasIt);
  ~ResultsDb();
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  static constexpr int kSchemaVersion = 2;
  /// Read-only opens accept versions from this one on: what `qtune db` reads
  /// (runs, trials) has not changed since.
  static constexpr int kOldestReadableVersion = 1;

  int64_t create_run(const RunRecord& run);
  void finish_run(int64_t run_id, const std::string& status, std::optional<int64_t> best_trial_id);
  void set_run_status(int64_t run_id, const std::string& status);
  /// Latest run whose config_hash matches (for --resume).
  std::optional<RunRecord> find_run_by_config_hash(const std::string& config_hash);
  std::vector<RunRecord> runs();
  std::optional<RunRecord> run(int64_t id);
  std::optional<RunRecord> latest_run();
  /// Stores (or replaces) the run's signature.
  void set_run_signature(int64_t run_id, const Json& signature);
  /// None when the run has none (started before version 2) or the database
  /// predates the table (an old one opened read-only).
  std::optional<Json> run_signature(int64_t run_id);

  /// Inserts or replaces the trial with this (run_id, config_hash); one transaction.
  int64_t record_trial(const TrialRecord& trial);
  std::vector<TrialRecord> trials(int64_t run_id);
  std::optional<TrialRecord> trial(int64_t id);

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// Now as ISO-8601 UTC with milliseconds ("2024-05-01T12:34:56.789Z"), the form
/// every timestamp in the database takes (it sorts as text).
std::string iso8601_utc_now();

}  // namespace qtune
