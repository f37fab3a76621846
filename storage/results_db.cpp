#include "storage/results_db.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/error.h"
#include "storage/sqlite_stmt.h"

namespace qtune {

using storage_detail::exec;
using storage_detail::Stmt;
using storage_detail::Transaction;

namespace {

// Migration k brings a database from version k-1 to version k. Append new
// ones; never edit a released one (databases in the field already ran it).
struct Migration {
  int to_version;
  const char* sql;
};

const Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE runs(
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at    TEXT NOT NULL,
  ended_at      TEXT,
  status        TEXT NOT NULL,
  model         TEXT NOT NULL,
  config_json   TEXT NOT NULL,
  config_hash   TEXT NOT NULL,
  baseline_json TEXT,
  best_trial_id INTEGER REFERENCES trials(id),
  host          TEXT
);
CREATE INDEX runs_by_config_hash ON runs(config_hash);
-- No AUTOINCREMENT on trials: the upsert in record_trial would consume an id on
-- every conflict, numbering trials 1, 3, 5, ... (rows are never deleted, so
-- max(id)+1 is just as stable).
CREATE TABLE trials(
  id             INTEGER PRIMARY KEY,
  run_id         INTEGER NOT NULL REFERENCES runs(id),
  idx            INTEGER NOT NULL,
  config_json    TEXT NOT NULL,
  config_hash    TEXT NOT NULL,
  status         TEXT NOT NULL,
  algorithm      TEXT,
  backend        TEXT,
  accuracy       REAL,
  accuracy_loss  REAL,
  latency_ms_p50 REAL,
  latency_ms_p90 REAL,
  latency_spread REAL,
  size_bytes     INTEGER,
  passed         INTEGER,
  error          TEXT,
  rank           INTEGER,
  host           TEXT,
  started_at     TEXT,
  ended_at       TEXT,
  metrics_json   TEXT,
  UNIQUE(run_id, config_hash)
);
CREATE INDEX trials_by_run ON trials(run_id, idx);
)sql"},
    {2, R"sql(
CREATE TABLE run_signatures(
  run_id         INTEGER PRIMARY KEY REFERENCES runs(id),
  signature_json TEXT NOT NULL
);
)sql"},
};

constexpr const char* kRunStatuses[] = {"RUNNING", "COMPLETED", "FAILED", "INTERRUPTED"};
constexpr const char* kTrialStatuses[] = {"PENDING", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT"};

template <size_t N>
void check_status(const std::string& status, const char* const (&allowed)[N], const char* what) {
  std::string list;
  for (const char* s : allowed) {
    if (status == s) return;
    list += std::string(list.empty() ? "" : "|") + s;
  }
  throw Error(std::string(what) + " status must be one of " + list + ", got '" + status + "'");
}

bool table_exists(sqlite3* db, const std::string& name, const std::string& where) {
  Stmt s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", where);
  s.bind(1, name);
  return s.step();
}

int64_t count_objects(sqlite3* db, const std::string& where) {
  Stmt s(db, "SELECT count(*) FROM sqlite_master", where);
  s.step();
  return s.int64(0);
}

int read_version(sqlite3* db, const std::string& where) {
  Stmt s(db, "SELECT max(version) FROM schema_version", where);
  QT_CHECK(s.step() && !s.is_null(0), where,
           ": not a qtune results database (schema_version is empty)");
  return static_cast<int>(s.int64(0));
}

void check_not_newer(int version, const std::string& where) {
  QT_CHECK(version <= ResultsDb::kSchemaVersion, where, ": database schema version ", version,
           " is newer than this qtune supports (", ResultsDb::kSchemaVersion,
           "); upgrade qtune to read it");
}

Json parse_column_json(const std::string& text, const std::string& where, const char* column) {
  if (text.empty()) return Json();
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": column " + column + " holds invalid JSON (" + e.what() + ")");
  }
}

const char* kRunColumns =
    "id, started_at, ended_at, status, model, config_json, config_hash, baseline_json, "
    "best_trial_id, host";

RunRecord read_run(const Stmt& s, const std::string& where) {
  RunRecord r;
  r.id = s.int64(0);
  r.started_at = s.text(1);
  r.ended_at = s.text(2);
  r.status = s.text(3);
  r.model = s.text(4);
  const std::string row = where + ": run " + std::to_string(r.id);
  r.config = parse_column_json(s.text(5), row, "config_json");
  r.config_hash = s.text(6);
  r.baseline = parse_column_json(s.text(7), row, "baseline_json");
  r.best_trial_id = s.opt_int64(8);
  r.host = s.text(9);
  return r;
}

const char* kTrialColumns =
    "id, run_id, idx, config_json, config_hash, status, algorithm, backend, accuracy, "
    "accuracy_loss, latency_ms_p50, latency_ms_p90, latency_spread, size_bytes, passed, error, "
    "rank, host, started_at, ended_at, metrics_json";

TrialRecord read_trial(const Stmt& s, const std::string& where) {
  TrialRecord t;
  t.id = s.int64(0);
  t.run_id = s.int64(1);
  t.index = s.int64(2);
  const std::string row = where + ": trial " + std::to_string(t.id);
  t.config = parse_column_json(s.text(3), row, "config_json");
  t.config_hash = s.text(4);
  t.status = s.text(5);
  t.algorithm = s.text(6);
  t.backend = s.text(7);
  t.accuracy = s.opt_real(8);
  t.accuracy_loss = s.opt_real(9);
  t.latency_ms_p50 = s.opt_real(10);
  t.latency_ms_p90 = s.opt_real(11);
  t.latency_spread = s.opt_real(12);
  t.size_bytes = s.opt_int64(13);
  if (!s.is_null(14)) t.passed = s.int64(14) != 0;
  t.error = s.text(15);
  t.rank = static_cast<int>(s.int64(16));
  t.host = s.text(17);
  t.started_at = s.text(18);
  t.ended_at = s.text(19);
  t.metrics = parse_column_json(s.text(20), row, "metrics_json");
  if (t.metrics.is_null()) t.metrics = Json::object();
  return t;
}

template <typename T>
Json opt_json(const std::optional<T>& v) {
  return v ? Json(*v) : Json();
}

Json text_or_null(const std::string& s) { return s.empty() ? Json() : Json(s); }

}  // namespace

std::string iso8601_utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

Json TrialRecord::to_json() const {
  Json j = Json::object();
  j["id"] = id;
  j["run_id"] = run_id;
  j["index"] = index;
  j["status"] = status;
  j["algorithm"] = algorithm;
  j["backend"] = backend;
  j["config"] = config;
  j["config_hash"] = config_hash;
  j["accuracy"] = opt_json(accuracy);
  j["accuracy_loss"] = opt_json(accuracy_loss);
  j["latency_ms_p50"] = opt_json(latency_ms_p50);
  j["latency_ms_p90"] = opt_json(latency_ms_p90);
  j["latency_spread"] = opt_json(latency_spread);
  j["size_bytes"] = opt_json(size_bytes);
  j["passed"] = opt_json(passed);
  j["error"] = text_or_null(error);
  j["rank"] = rank;
  j["host"] = host;
  j["started_at"] = text_or_null(started_at);
  j["ended_at"] = text_or_null(ended_at);
  j["metrics"] = metrics;
  return j;
}

ResultsDb::ResultsDb(const std::filesystem::path& path, Mode mode, Durability durability)
    : path_(path) {
  const std::string where = path.string();
  const bool read_only = mode == Mode::kReadOnly;
  std::error_code ec;
  if (read_only) {
    // SQLite would report "unable to open database file"; say which file and why.
    QT_CHECK(std::filesystem::exists(path, ec), where, ": no such results database");
  }
  QT_CHECK(!std::filesystem::is_directory(path, ec), where,
           ": is a directory, expected a results database file");
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(where.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw Error(where + ": cannot open results database: " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    // The first read of the file is where SQLite notices it is not a database.
    int64_t objects = 0;
    try {
      objects = count_objects(db_, where);
    } catch (const Error&) {
      throw Error(where + ": not a qtune results database (" + sqlite3_errmsg(db_) + ")");
    }
    if (read_only) {
      QT_CHECK(table_exists(db_, "schema_version", where), where,
               ": not a qtune results database (no schema_version table)");
      const int version = read_version(db_, where);
      check_not_newer(version, where);
      QT_CHECK(version >= kOldestReadableVersion, where, ": database schema version ", version,
               " is older than ", kOldestReadableVersion,
               "; open it once for writing to migrate it");
    } else {
      // Never touch a foreign database: decide before switching its journal mode.
      QT_CHECK(objects == 0 || table_exists(db_, "schema_version", where), where,
               ": not a qtune results database (no schema_version table)");
      exec(db_, "PRAGMA foreign_keys = ON", where);
      {
        // Re-checked under the write lock: two processes may create the same file at once.
        Transaction tx(db_, where);
        if (!table_exists(db_, "schema_version", where)) {
          QT_CHECK(count_objects(db_, where) == 0, where,
                   ": not a qtune results database (no schema_version table)");
          exec(db_, "CREATE TABLE schema_version(version INTEGER NOT NULL)", where);
          exec(db_, "INSERT INTO schema_version(version) VALUES (0)", where);
        }
        const int version = read_version(db_, where);
        check_not_newer(version, where);
        for (const auto& m : kMigrations) {
          if (m.to_version <= version) continue;
          exec(db_, m.sql, where + ": migration to schema version " + std::to_string(m.to_version));
          Stmt s(db_, "UPDATE schema_version SET version = ?", where);
          s.bind(1, static_cast<int64_t>(m.to_version)).run();
        }
        tx.commit();
      }
      // WAL: a reader (`qtune db`) and the writing coordinator never block each other.
      Stmt wal(db_, "PRAGMA journal_mode = WAL", where);
      QT_CHECK(wal.step() && wal.text(0) == "wal", where,
               ": cannot switch to WAL journal mode (got '", wal.text(0), "')");
      // NORMAL by default: in WAL mode it syncs at checkpoints, not at every
      // commit, and a commit still reaches the OS before record_trial
      // returns, so a killed coordinator loses nothing (the chaos test kills
      // it); only a power loss can take back the last commits, never corrupt
      // the file. FULL's fsync per commit was most of the coordinator's CPU
      // per trial (docs/scaling.md).
      exec(db_,
           durability == Durability::kOnDisk ? "PRAGMA synchronous = FULL"
                                             : "PRAGMA synchronous = NORMAL",
           where);
    }
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

ResultsDb::~ResultsDb() { sqlite3_close_v2(db_); }

namespace {
void require_writable(sqlite3* db, const std::string& where) {
  QT_CHECK(sqlite3_db_readonly(db, "main") == 0, where,
           ": results database is open read-only, cannot write");
}
}  // namespace

void ResultsDb::set_run_signature(int64_t run_id, const Json& signature) {
  const std::string where = path_.string();
  require_writable(db_, where);
  Stmt s(db_, "INSERT OR REPLACE INTO run_signatures(run_id, signature_json) VALUES (?, ?)", where);
  s.bind(1, run_id).bind(2, signature.dump());
  s.run();
}

std::optional<Json> ResultsDb::run_signature(int64_t run_id) {
  const std::string where = path_.string();
  if (!table_exists(db_, "run_signatures", where)) return std::nullopt;
  Stmt s(db_, "SELECT signature_json FROM run_signatures WHERE run_id = ?", where);
  s.bind(1, run_id);
  if (!s.step()) return std::nullopt;
  return parse_column_json(s.text(0), where + ": run " + std::to_string(run_id), "signature_json");
}

int64_t ResultsDb::create_run(const RunRecord& run) {
  const std::string where = path_.string();
  require_writable(db_, where);
  const std::string status = run.status.empty() ? "RUNNING" : run.status;
  check_status(status, kRunStatuses, "run");
  Stmt s(db_,
         "INSERT INTO runs(started_at, ended_at, status, model, config_json, config_hash, "
         "baseline_json, best_trial_id, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
         where);
  s.bind(1, run.started_at.empty() ? iso8601_utc_now() : run.started_at)
      .bind_text_or_null(2, run.ended_at)
      .bind(3, status)
      .bind(4, run.model)
      .bind(5, run.config.dump())
      .bind(6, run.config_hash)
      .bind(7, run.baseline.dump())
      .bind(8, run.best_trial_id)
      .bind(9, run.host);
  s.run();
  return sqlite3_last_insert_rowid(db_);
}

void ResultsDb::finish_run(int64_t run_id, const std::string& status,
                           std::optional<int64_t> best_trial_id) {
  const std::string where = path_.string();
  require_writable(db_, where);
  check_status(status, kRunStatuses, "run");
  Stmt s(db_, "UPDATE runs SET status = ?, ended_at = ?, best_trial_id = ? WHERE id = ?", where);
  s.bind(1, status).bind(2, iso8601_utc_now()).bind(3, best_trial_id).bind(4, run_id);
  s.run();
  QT_CHECK(sqlite3_changes(db_) == 1, where, ": no run with id ", run_id);
}

void ResultsDb::set_run_status(int64_t run_id, const std::string& status) {
  const std::string where = path_.string();
  require_writable(db_, where);
  check_status(status, kRunStatuses, "run");
  Stmt s(db_, "UPDATE runs SET status = ? WHERE id = ?", where);
  s.bind(1, status).bind(2, run_id);
  s.run();
  QT_CHECK(sqlite3_changes(db_) == 1, where, ": no run with id ", run_id);
}

std::optional<RunRecord> ResultsDb::find_run_by_config_hash(const std::string& config_hash) {
  const std::string where = path_.string();
  Stmt s(db_,
         std::string("SELECT ") + kRunColumns +
             " FROM runs WHERE config_hash = ? ORDER BY id DESC LIMIT 1",
         where);
  s.bind(1, config_hash);
  if (!s.step()) return std::nullopt;
  return read_run(s, where);
}

std::vector<RunRecord> ResultsDb::runs() {
  const std::string where = path_.string();
  Stmt s(db_, std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id", where);
  std::vector<RunRecord> out;
  while (s.step()) out.push_back(read_run(s, where));
  return out;
}

std::optional<RunRecord> ResultsDb::run(int64_t id) {
  const std::string where = path_.string();
  Stmt s(db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?", where);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_run(s, where);
}

std::optional<RunRecord> ResultsDb::latest_run() {
  const std::string where = path_.string();
  Stmt s(db_, std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id DESC LIMIT 1", where);
  if (!s.step()) return std::nullopt;
  return read_run(s, where);
}

int64_t ResultsDb::record_trial(const TrialRecord& t) {
  const std::string where = path_.string();
  require_writable(db_, where);
  check_status(t.status, kTrialStatuses, "trial");
  QT_CHECK(!t.config_hash.empty(), where, ": trial ", t.index, " has an empty config_hash");
  // The upsert keeps the row's id, so references (runs.best_trial_id) stay valid
  // when a resumed run re-records a trial.
  Transaction tx(db_, where);
  {
    Stmt s(db_,
           "INSERT INTO trials(run_id, idx, config_json, config_hash, status, algorithm, backend, "
           "accuracy, accuracy_loss, latency_ms_p50, latency_ms_p90, latency_spread, size_bytes, "
           "passed, error, rank, host, started_at, ended_at, metrics_json) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT(run_id, config_hash) DO UPDATE SET "
           "idx = excluded.idx, config_json = excluded.config_json, status = excluded.status, "
           "algorithm = excluded.algorithm, backend = excluded.backend, "
           "accuracy = excluded.accuracy, accuracy_loss = excluded.accuracy_loss, "
           "latency_ms_p50 = excluded.latency_ms_p50, latency_ms_p90 = excluded.latency_ms_p90, "
           "latency_spread = excluded.latency_spread, size_bytes = excluded.size_bytes, "
           "passed = excluded.passed, error = excluded.error, rank = excluded.rank, "
           "host = excluded.host, started_at = excluded.started_at, "
           "ended_at = excluded.ended_at, metrics_json = excluded.metrics_json",
           where);
    s.bind(1, t.run_id)
        .bind(2, t.index)
        .bind(3, t.config.dump())
        .bind(4, t.config_hash)
        .bind(5, t.status)
        .bind(6, t.algorithm)
        .bind(7, t.backend)
        .bind(8, t.accuracy)
        .bind(9, t.accuracy_loss)
        .bind(10, t.latency_ms_p50)
        .bind(11, t.latency_ms_p90)
        .bind(12, t.latency_spread)
        .bind(13, t.size_bytes);
    if (t.passed)
      s.bind(14, static_cast<int64_t>(*t.passed ? 1 : 0));
    else
      s.bind_null(14);
    s.bind_text_or_null(15, t.error)
        .bind(16, static_cast<int64_t>(t.rank))
        .bind(17, t.host)
        .bind_text_or_null(18, t.started_at)
        .bind_text_or_null(19, t.ended_at)
        .bind(20, t.metrics.dump());
    s.run();
  }
  int64_t trial_id = 0;
  {
    Stmt id(db_, "SELECT id FROM trials WHERE run_id = ? AND config_hash = ?", where);
    id.bind(1, t.run_id).bind(2, t.config_hash);
    QT_ASSERT(id.step(), "trial row missing right after its upsert");
    trial_id = id.int64(0);
  }
  tx.commit();
  return trial_id;
}

std::vector<TrialRecord> ResultsDb::trials(int64_t run_id) {
  const std::string where = path_.string();
  Stmt s(db_,
         std::string("SELECT ") + kTrialColumns + " FROM trials WHERE run_id = ? ORDER BY idx, id",
         where);
  s.bind(1, run_id);
  std::vector<TrialRecord> out;
  while (s.step()) out.push_back(read_trial(s, where));
  return out;
}

std::optional<TrialRecord> ResultsDb::trial(int64_t id) {
  const std::string where = path_.string();
  Stmt s(db_, std::string("SELECT ") + kTrialColumns + " FROM trials WHERE id = ?", where);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_trial(s, where);
}

}  // namespace qtune
