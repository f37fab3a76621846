#include "storage/results_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <regex>

#include "common/error.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

/// A plain SQLite connection, to look at the file from outside ResultsDb.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& p) {
    EXPECT_EQ(sqlite3_open(p.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

RunRecord sample_run(const std::string& hash = "run-hash-1") {
  RunRecord r;
  r.model = "builtin:fmnist-cnn";
  r.config = Json{{"model", "builtin:fmnist-cnn"}, {"max_trials", 4}};
  r.config_hash = hash;
  r.baseline = Json{{"metric", "top1"}, {"value", 0.91}};
  r.host = "node0";
  return r;
}

TrialRecord sample_trial(int64_t run_id, int64_t index, const std::string& hash) {
  TrialRecord t;
  t.run_id = run_id;
  t.index = index;
  t.config = Json{{"algorithm", "rtn"}, {"params", {{"bits", 4}, {"group_size", 32}}}};
  t.config_hash = hash;
  t.status = "COMPLETED";
  t.algorithm = "rtn";
  t.backend = "eager";
  t.accuracy = 0.905;
  t.accuracy_loss = 0.005;
  t.latency_ms_p50 = 1.25;
  t.latency_ms_p90 = 1.5;
  t.latency_spread = 0.02;
  t.size_bytes = 123456;
  t.passed = true;
  t.rank = 2;
  t.host = "node1";
  t.started_at = "2024-01-02T03:04:05.000Z";
  t.ended_at = "2024-01-02T03:04:06.500Z";
  t.metrics = Json{{"reasons", {{"fc1", "eager: reference"}}}};
  return t;
}

TEST(ResultsDb, CreatesSchemaVersionAndWal) {
  TempDir dir;
  { ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite); }
  RawDb raw(dir / "r.db");
  EXPECT_EQ(raw.scalar("SELECT version FROM schema_version"), "2");
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
}

// Version 2 added run_signatures and nothing else: dropping it gives the
// database a version-1 qtune wrote.
TEST(ResultsDb, VersionOneDatabaseReadsAndMigratesOnWrite) {
  TempDir dir;
  int64_t run = 0;
  {
    ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
    run = db.create_run(sample_run());
    db.record_trial(sample_trial(run, 0, "a"));
  }
  {
    RawDb raw(dir / "r.db");
    raw.exec("DROP TABLE run_signatures");
    raw.exec("UPDATE schema_version SET version = 1");
  }
  {
    ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadOnly);
    EXPECT_EQ(db.runs().size(), 1u);
    EXPECT_EQ(db.trials(run).size(), 1u);
    EXPECT_FALSE(db.run_signature(run));
  }
  ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
  EXPECT_FALSE(db.run_signature(run));
  const Json sig{{"model_hash", "0123456789abcdef"}, {"data_hash", "fedcba9876543210"}};
  db.set_run_signature(run, sig);
  EXPECT_EQ(db.run_signature(run), sig);
  db.set_run_signature(run, Json{{"model_hash", "1"}});
  EXPECT_EQ(db.run_signature(run), (Json{{"model_hash", "1"}}));
  RawDb raw(dir / "r.db");
  EXPECT_EQ(raw.scalar("SELECT version FROM schema_version"), "2");
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM run_signatures"), "1");
}

TEST(ResultsDb, RunsRoundTrip) {
  TempDir dir;
  ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
  EXPECT_FALSE(db.latest_run().has_value());
  const int64_t id = db.create_run(sample_run());
  const auto r = db.run(id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, id);
  EXPECT_EQ(r->status, "RUNNING");
  EXPECT_EQ(r->model, "builtin:fmnist-cnn");
  EXPECT_EQ(r->config, sample_run().config);
  EXPECT_EQ(r->config.dump(), sample_run().config.dump()) << "key order must survive";
  EXPECT_EQ(r->baseline, sample_run().baseline);
  EXPECT_EQ(r->host, "node0");
  EXPECT_EQ(r->ended_at, "");
  EXPECT_FALSE(r->best_trial_id.has_value());
  EXPECT_TRUE(
      std::regex_match(r->started_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << r->started_at;

  const int64_t trial = db.record_trial(sample_trial(id, 0, "t0"));
  db.finish_run(id, "COMPLETED", trial);
  const auto done = db.run(id);
  EXPECT_EQ(done->status, "COMPLETED");
  EXPECT_EQ(done->best_trial_id, trial);
  EXPECT_GE(done->ended_at, done->started_at);

  const int64_t id2 = db.create_run(sample_run("other"));
  const int64_t id3 = db.create_run(sample_run());
  EXPECT_EQ(db.latest_run()->id, id3);
  EXPECT_EQ(db.find_run_by_config_hash("run-hash-1")->id, id3) << "the latest match wins";
  EXPECT_EQ(db.find_run_by_config_hash("other")->id, id2);
  EXPECT_FALSE(db.find_run_by_config_hash("absent").has_value());
  db.set_run_status(id2, "INTERRUPTED");
  EXPECT_EQ(db.run(id2)->status, "INTERRUPTED");
  const auto all = db.runs();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, id);
  EXPECT_EQ(all[2].id, id3);
  EXPECT_FALSE(db.run(999).has_value());
}

TEST(ResultsDb, RejectsBadStatusAndUnknownRun) {
  TempDir dir;
  ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
  const int64_t id = db.create_run(sample_run());
  expect_error([&] { db.set_run_status(id, "DONE"); }, "run status must be one of");
  expect_error([&] { db.finish_run(42, "COMPLETED", std::nullopt); }, "no run with id 42");
  auto t = sample_trial(id, 0, "h");
  t.status = "OK";
  expect_error([&] { db.record_trial(t); }, "trial status must be one of");
  expect_error([&] { db.record_trial(sample_trial(77, 0, "h")); }, "FOREIGN KEY");
  EXPECT_TRUE(db.trials(77).empty());
}

TEST(ResultsDb, TrialsRoundTripWithAndWithoutOptionals) {
  TempDir dir;
  ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
  const int64_t run = db.create_run(sample_run());
  const TrialRecord full = sample_trial(run, 1, "full");
  TrialRecord failed;
  failed.run_id = run;
  failed.index = 0;
  failed.config = Json{{"algorithm", "gptq"}};
  failed.config_hash = "failed";
  failed.status = "FAILED";
  failed.algorithm = "gptq";
  failed.error = "gptq: layer fc1: Hessian is not positive definite";
  const int64_t id_full = db.record_trial(full);
  const int64_t id_failed = db.record_trial(failed);
  EXPECT_NE(id_full, id_failed);

  const auto trials = db.trials(run);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].id, id_failed) << "ordered by index";
  const TrialRecord& f = trials[1];
  EXPECT_EQ(f.id, id_full);
  EXPECT_EQ(f.run_id, run);
  EXPECT_EQ(f.index, 1);
  EXPECT_EQ(f.config, full.config);
  EXPECT_EQ(f.config_hash, "full");
  EXPECT_EQ(f.status, "COMPLETED");
  EXPECT_EQ(f.algorithm, "rtn");
  EXPECT_EQ(f.backend, "eager");
  EXPECT_EQ(f.accuracy, 0.905);
  EXPECT_EQ(f.accuracy_loss, 0.005);
  EXPECT_EQ(f.latency_ms_p50, 1.25);
  EXPECT_EQ(f.latency_ms_p90, 1.5);
  EXPECT_EQ(f.latency_spread, 0.02);
  EXPECT_EQ(f.size_bytes, 123456);
  EXPECT_EQ(f.passed, true);
  EXPECT_EQ(f.error, "");
  EXPECT_EQ(f.rank, 2);
  EXPECT_EQ(f.host, "node1");
  EXPECT_EQ(f.started_at, full.started_at);
  EXPECT_EQ(f.ended_at, full.ended_at);
  EXPECT_EQ(f.metrics, full.metrics);

  const TrialRecord& g = trials[0];
  EXPECT_FALSE(g.accuracy.has_value());
  EXPECT_FALSE(g.latency_ms_p50.has_value());
  EXPECT_FALSE(g.size_bytes.has_value());
  EXPECT_FALSE(g.passed.has_value());
  EXPECT_EQ(g.error, failed.error);
  EXPECT_EQ(g.metrics, Json::object());

  const auto one = db.trial(id_full);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->config_hash, "full");
  EXPECT_FALSE(db.trial(12345).has_value());
}

TEST(ResultsDb, RecordTrialUpsertsByConfigHash) {
  TempDir dir;
  ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
  const int64_t run = db.create_run(sample_run());
  const int64_t other_run = db.create_run(sample_run("other"));
  TrialRecord t = sample_trial(run, 3, "same");
  t.status = "RUNNING";
  t.accuracy.reset();
  const int64_t first = db.record_trial(t);
  t.status = "COMPLETED";
  t.accuracy = 0.8;
  const int64_t second = db.record_trial(t);
  EXPECT_EQ(first, second) << "same (run, config_hash) keeps its row";
  auto trials = db.trials(run);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].status, "COMPLETED");
  EXPECT_EQ(trials[0].accuracy, 0.8);
  // The same config in another run is another trial.
  const int64_t third = db.record_trial(sample_trial(other_run, 3, "same"));
  EXPECT_EQ(third, first + 1) << "an upsert that updated must not use up an id";
  EXPECT_EQ(db.trials(other_run).size(), 1u);
  EXPECT_EQ(db.trials(run).size(), 1u);
}

TEST(ResultsDb, TrialJsonHasEveryFieldAndNullsForMissing) {
  TrialRecord t = sample_trial(5, 2, "abc");
  t.id = 9;
  Json j = t.to_json();
  for (const char* key :
       {"id", "run_id", "index", "status", "algorithm", "backend", "config", "config_hash",
        "accuracy", "accuracy_loss", "latency_ms_p50", "latency_ms_p90", "size_bytes", "passed",
        "error", "rank", "host", "started_at", "ended_at"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["id"], 9);
  EXPECT_EQ(j["run_id"], 5);
  EXPECT_EQ(j["index"], 2);
  EXPECT_EQ(j["config"]["params"]["bits"], 4);
  EXPECT_EQ(j["accuracy"], 0.905);
  EXPECT_EQ(j["passed"], true);
  EXPECT_TRUE(j["error"].is_null());

  t.accuracy.reset();
  t.size_bytes.reset();
  t.passed.reset();
  t.ended_at.clear();
  t.error = "boom";
  j = t.to_json();
  EXPECT_TRUE(j["accuracy"].is_null());
  EXPECT_TRUE(j["size_bytes"].is_null());
  EXPECT_TRUE(j["passed"].is_null());
  EXPECT_TRUE(j["ended_at"].is_null());
  EXPECT_EQ(j["error"], "boom");
}

TEST(ResultsDb, ReadOnlyReopenSeesDataAndCannotWrite) {
  TempDir dir;
  int64_t run = 0;
  {
    ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
    run = db.create_run(sample_run());
    db.record_trial(sample_trial(run, 0, "a"));
  }
  ResultsDb ro(dir / "r.db", ResultsDb::Mode::kReadOnly);
  ASSERT_EQ(ro.runs().size(), 1u);
  ASSERT_EQ(ro.trials(run).size(), 1u);
  EXPECT_EQ(ro.trials(run)[0].config_hash, "a");
  expect_error([&] { ro.create_run(sample_run()); }, "read-only");
  expect_error([&] { ro.record_trial(sample_trial(run, 1, "b")); }, "read-only");
}

TEST(ResultsDb, ReadOnlyNeverCreatesAFile) {
  TempDir dir;
  expect_error([&] { ResultsDb db(dir / "absent.db", ResultsDb::Mode::kReadOnly); },
               "no such results database");
  EXPECT_FALSE(std::filesystem::exists(dir / "absent.db"));
}

TEST(ResultsDb, RejectsAForeignSqliteDatabaseUntouched) {
  TempDir dir;
  {
    RawDb raw(dir / "foreign.db");
    raw.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
  }
  for (auto mode : {ResultsDb::Mode::kReadOnly, ResultsDb::Mode::kReadWrite})
    expect_error(
        [&] { ResultsDb db(dir / "foreign.db", mode); },
        (dir / "foreign.db").string() + ": not a qtune results database (no schema_version table)");
  RawDb raw(dir / "foreign.db");
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "delete") << "the foreign file was modified";
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_master"), "1");
}

TEST(ResultsDb, RejectsRandomBytes) {
  TempDir dir;
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 131 + 7) % 251));
  write_bytes(dir / "junk.db", junk);
  for (auto mode : {ResultsDb::Mode::kReadOnly, ResultsDb::Mode::kReadWrite})
    expect_error([&] { ResultsDb db(dir / "junk.db", mode); },
                 (dir / "junk.db").string() + ": not a qtune results database (");
  EXPECT_EQ(testing::read_bytes(dir / "junk.db"), junk);
}

TEST(ResultsDb, RejectsANewerSchema) {
  TempDir dir;
  { ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite); }
  {
    RawDb raw(dir / "r.db");
    raw.exec("UPDATE schema_version SET version = 3");
  }
  for (auto mode : {ResultsDb::Mode::kReadOnly, ResultsDb::Mode::kReadWrite})
    expect_error([&] { ResultsDb db(dir / "r.db", mode); },
                 "schema version 3 is newer than this qtune supports (2); upgrade qtune");
}

TEST(ResultsDb, ReopeningForWriteKeepsData) {
  TempDir dir;
  { ResultsDb(dir / "r.db", ResultsDb::Mode::kReadWrite).create_run(sample_run()); }
  ResultsDb db(dir / "r.db", ResultsDb::Mode::kReadWrite);
  EXPECT_EQ(db.runs().size(), 1u);
  RawDb raw(dir / "r.db");
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM schema_version"), "1");
}

TEST(ResultsDb, WriterCommitsWhileAReaderHoldsASnapshot) {
  TempDir dir;
  ResultsDb writer(dir / "r.db", ResultsDb::Mode::kReadWrite);
  const int64_t run = writer.create_run(sample_run());
  writer.record_trial(sample_trial(run, 0, "a"));

  RawDb reader(dir / "r.db");
  reader.exec("BEGIN");
  ASSERT_EQ(reader.scalar("SELECT count(*) FROM trials"), "1");
  // In rollback-journal mode this commit would wait on the reader's lock and
  // fail after the busy timeout; WAL lets it through.
  writer.record_trial(sample_trial(run, 1, "b"));
  EXPECT_EQ(reader.scalar("SELECT count(*) FROM trials"), "1") << "the reader keeps its snapshot";
  reader.exec("COMMIT");
  EXPECT_EQ(reader.scalar("SELECT count(*) FROM trials"), "2");

  ResultsDb ro(dir / "r.db", ResultsDb::Mode::kReadOnly);
  EXPECT_EQ(ro.trials(run).size(), 2u);
  writer.record_trial(sample_trial(run, 2, "c"));
  EXPECT_EQ(ro.trials(run).size(), 3u) << "a read-only handle sees later commits";
}

}  // namespace
}  // namespace qtune
