// The chaos test (README "Crash isolation"): `qtune tune` killed with SIGKILL
// at a random moment -- the single process, or under mpirun -np 3 the
// coordinator (rank 0) or a worker, after which mpirun ends the whole job --
// and then run again with --resume. Each resumed run must complete with every
// trial recorded exactly once (those finished before the kill kept as they
// were, not run again; the others run once), its database must pass PRAGMA
// integrity_check both as the kill left it and after the resume, and its best
// model must be the uninterrupted run's, byte for byte.
//
// The moments come from a fixed seed, so a failure can be looked at again
// (QTUNE_CHAOS_SEED picks another seed to explore); each failure names the
// seed, the run, the process killed and when. A moment is drawn after the run
// is recorded in the database: a kill before that leaves no run to resume
// (`--resume` then says "no run with this config to resume", RunTuning's
// tests), and the moments are spread over the whole recorded span of an
// uninterrupted run: the k-th of n runs of a kind (with or without
// isolation) falls in the k-th n-th of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/background_command.h"
#include "tests/integration/run_command.h"
#include "tests/support/sqlite_query.h"

namespace qtune::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSeed = 14;
constexpr int kRunsPerLaunch = 10;  ///< single process, and mpirun: 20 runs in all
constexpr int kTrials = 6;

// Six short trials on the tiny model: some pass, some do not (2 bits), so
// the best is a choice among several.
const char* kConfig = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 32}
evaluation: {samples: 200}
search_space:
  - algorithm: rtn
    params: {bits: [2, 4, 8], group_size: [32, -1]}
constraints: {max_accuracy_loss: 0.05}
objective: size
strategy: exhaustive
seed: 7
latency: {batch: 8, warmup: 1, runs: 20}
)";

uint64_t chaos_seed() {
  const char* v = std::getenv("QTUNE_CHAOS_SEED");
  return v ? std::strtoull(v, nullptr, 10) : kSeed;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string tune_command(int ranks, const fs::path& dir, bool isolation, bool resume) {
  const std::string args = "tune --json --config " + (dir / "tune.yaml").string() + " --out " +
                           (dir / "out").string() + cache_flag() + (resume ? " --resume" : "") +
                           (isolation ? "" : " --no-isolation");
  return ranks > 1 ? mpirun_qtune(ranks, args) : qtune(args);
}

fs::path db_of(const fs::path& dir) { return dir / "out" / "results.db"; }

// What a trial's row says about its one execution; accuracy with all 17 digits.
struct TrialRow {
  int64_t index = -1;
  std::string status, config_hash, accuracy, size_bytes, rank, started_at, ended_at, metrics;
  bool operator==(const TrialRow& o) const {
    return index == o.index && status == o.status && config_hash == o.config_hash &&
           accuracy == o.accuracy && size_bytes == o.size_bytes && rank == o.rank &&
           started_at == o.started_at && ended_at == o.ended_at && metrics == o.metrics;
  }
};

std::vector<TrialRow> trial_rows(const fs::path& db) {
  const SqlResult r =
      sqlite_query(db,
                   "SELECT idx, status, config_hash, printf('%.17g', accuracy), size_bytes, rank, "
                   "started_at, ended_at, metrics_json FROM trials ORDER BY idx, id");
  EXPECT_TRUE(r.ok()) << db << ": " << r.error;
  std::vector<TrialRow> out;
  for (const auto& c : r.rows)
    out.push_back({std::stoll(c[0]), c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]});
  return out;
}

bool finished(const TrialRow& t) {
  return t.status == "COMPLETED" || t.status == "FAILED" || t.status == "TIMEOUT";
}

std::string integrity(const fs::path& db) {
  const SqlResult r = sqlite_query(db, "PRAGMA integrity_check", /*read_only=*/false);
  if (!r.ok()) return "error: " + r.error;
  std::string out;
  for (const auto& row : r.rows) out += (out.empty() ? "" : "; ") + row.at(0);
  return out;
}

std::vector<std::string> run_statuses(const fs::path& db) {
  std::vector<std::string> out;
  for (const auto& row : sqlite_query(db, "SELECT status FROM runs ORDER BY id").rows)
    out.push_back(row.at(0));
  return out;
}

// Polls the database the run writes until its run row exists; false when the
// command ended first. Only once the WAL file exists: in WAL mode a reader
// never holds up the writer, but the switch into it needs the file alone.
bool wait_until_run_recorded(const fs::path& db, BackgroundCommand& p) {
  const fs::path wal = db.string() + "-wal";
  while (!p.poll()) {
    const SqlResult r = fs::exists(wal) ? sqlite_query(db, "SELECT count(*) FROM runs")
                                        : SqlResult{{}, "no WAL yet"};
    if (r.ok() && !r.rows.empty() && r.rows[0].at(0) != "0") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Every process of the run (mpirun's ranks, a worker's trial child) is gone:
// nothing writes the database or competes with the resumed run.
void expect_no_process_left(const fs::path& dir) {
  std::vector<pid_t> left;
  for (int i = 0; i < 1500; ++i) {  // 30 s at most
    left = pids_mentioning((dir / "out").string());
    if (left.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string list;
  for (pid_t p : left) list += " " + std::to_string(p);
  ADD_FAILURE() << "processes of the killed run still alive 30 s after it ended:" << list;
  for (pid_t p : left) ::kill(p, SIGKILL);
}

// The database as the kill left it, copied with its WAL: checking it must not
// recover the original before the resumed run opens it.
fs::path copy_database(const fs::path& dir) {
  const fs::path to = dir / "as-killed";
  fs::create_directories(to);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const fs::path from = db_of(dir).string() + suffix;
    if (fs::exists(from)) fs::copy_file(from, to / from.filename());
  }
  return to / "results.db";
}

struct Reference {
  std::vector<TrialRow> trials;
  int64_t best_index = -1;
  std::string best_tensors;  ///< best/model.safetensors
  Json best_quant_config;
  double span_s = 0;  ///< from the run's row appearing to the process's end
};

std::string best_tensors(const fs::path& dir) {
  return slurp(dir / "out" / "best" / "model.safetensors");
}

Json best_quant_config(const fs::path& dir) {
  const std::string text = slurp(dir / "out" / "best" / "qconfig.json");
  return text.empty() ? Json() : Json::parse(text).at("quant_config");
}

void reference_run(int ranks, bool isolation, const fs::path& dir, Reference& ref) {
  fs::create_directories(dir);
  write_file(dir / "tune.yaml", kConfig);
  BackgroundCommand p(tune_command(ranks, dir, isolation, false), dir / "stdout", dir / "stderr");
  ASSERT_TRUE(wait_until_run_recorded(db_of(dir), p)) << slurp(dir / "stderr");
  const auto recorded = Clock::now();
  ASSERT_EQ(p.wait(), 0) << slurp(dir / "stderr");
  ref.span_s = seconds_since(recorded);
  const Json summary = Json::parse(slurp(dir / "stdout"));
  ASSERT_TRUE(summary["best"].is_object()) << "the reference run saved no best model";
  ref.best_index = summary["best"]["index"].get<int64_t>();
  ref.trials = trial_rows(db_of(dir));
  ASSERT_EQ(ref.trials.size(), static_cast<size_t>(kTrials));
  for (const TrialRow& t : ref.trials) ASSERT_EQ(t.status, "COMPLETED") << t.index;
  ref.best_tensors = best_tensors(dir);
  ASSERT_FALSE(ref.best_tensors.empty());
  ref.best_quant_config = best_quant_config(dir);
}

struct Kill {
  int rank = 0;           ///< mpirun: which rank; 0 (the coordinator) or a worker
  double delay_s = 0;     ///< after the run's row appeared
  bool isolation = true;  ///< trials in child processes (the killed run and its resume)
};

struct Outcome {
  bool interrupted = false;  ///< the kill left trials unfinished
  int64_t finished_before = 0;
};

// One killed run and its resume, checked against the uninterrupted run.
void chaos_run(int ranks, const fs::path& dir, const Kill& kill, const Reference& ref,
               Outcome& outcome) {
  fs::create_directories(dir);
  write_file(dir / "tune.yaml", kConfig);
  {
    BackgroundCommand p(tune_command(ranks, dir, kill.isolation, false), dir / "killed.out",
                        dir / "killed.err");
    ASSERT_TRUE(wait_until_run_recorded(db_of(dir), p)) << slurp(dir / "killed.err");
    std::this_thread::sleep_for(std::chrono::duration<double>(kill.delay_s));
    const std::optional<pid_t> target = ranks > 1 ? mpi_rank_pid(p.pid(), kill.rank) : p.pid();
    if (target && !p.poll()) ::kill(*target, SIGKILL);
    p.wait();
  }
  ASSERT_NO_FATAL_FAILURE(expect_no_process_left(dir));

  const fs::path as_killed = copy_database(dir);
  EXPECT_EQ(integrity(as_killed), "ok") << "the database as the kill left it";
  std::vector<TrialRow> before;
  for (const TrialRow& t : trial_rows(as_killed))
    if (finished(t)) before.push_back(t);
  const std::vector<std::string> runs_before = run_statuses(as_killed);
  ASSERT_EQ(runs_before.size(), 1u);
  outcome.finished_before = static_cast<int64_t>(before.size());
  outcome.interrupted = runs_before[0] == "RUNNING" && before.size() < size_t{kTrials};

  const CommandResult resumed = run(tune_command(ranks, dir, kill.isolation, true));
  ASSERT_EQ(resumed.status, 0) << "--resume failed:\n" << resumed.err;
  const Json summary = Json::parse(resumed.out);
  EXPECT_EQ(summary["trials_skipped"], outcome.finished_before);
  EXPECT_EQ(summary["trials_run"], kTrials - outcome.finished_before);

  EXPECT_EQ(integrity(db_of(dir)), "ok") << "the database after the resume";
  EXPECT_EQ(run_statuses(db_of(dir)), std::vector<std::string>{"COMPLETED"});
  const std::vector<TrialRow> after = trial_rows(db_of(dir));
  ASSERT_EQ(after.size(), static_cast<size_t>(kTrials)) << "a trial lost or recorded twice";
  for (size_t i = 0; i < after.size(); ++i) {
    const TrialRow& t = after[i];
    EXPECT_EQ(t.index, static_cast<int64_t>(i)) << "indices not 0.." << kTrials - 1 << " once";
    EXPECT_EQ(t.status, "COMPLETED") << "trial " << t.index;
    // The same trial, measured the same: quantization and evaluation are deterministic.
    EXPECT_EQ(t.config_hash, ref.trials[i].config_hash) << "trial " << t.index;
    EXPECT_EQ(t.accuracy, ref.trials[i].accuracy) << "trial " << t.index;
    EXPECT_EQ(t.size_bytes, ref.trials[i].size_bytes) << "trial " << t.index;
  }
  for (const TrialRow& b : before) {
    const auto same = std::find_if(after.begin(), after.end(),
                                   [&](const TrialRow& a) { return a.index == b.index; });
    ASSERT_NE(same, after.end());
    EXPECT_TRUE(*same == b) << "trial " << b.index
                            << " finished before the kill and was run again: ended " << b.ended_at
                            << ", then " << same->ended_at;
  }

  ASSERT_TRUE(summary["best"].is_object()) << resumed.out;
  EXPECT_EQ(summary["best"]["index"], ref.best_index);
  EXPECT_EQ(summary["rematerialized_accuracy"], summary["best"]["accuracy"]);
  EXPECT_TRUE(best_tensors(dir) == ref.best_tensors) << "best/model.safetensors differs";
  EXPECT_EQ(best_quant_config(dir), ref.best_quant_config);
}

std::string describe(uint64_t seed, int run, int ranks, const Kill& k, double span_s) {
  std::ostringstream m;
  m << "chaos seed " << seed << ", run " << run << ": SIGKILL to "
    << (ranks == 1 ? std::string("the qtune process")
                   : (k.rank == 0 ? "rank 0 (coordinator)" : "rank " + std::to_string(k.rank)) +
                         " of mpirun -np " + std::to_string(ranks))
    << (k.isolation ? "" : " (--no-isolation)") << " " << k.delay_s
    << " s after the run was recorded (uninterrupted: " << span_s << " s)";
  return m.str();
}

void chaos(int ranks, const std::string& name) {
  const uint64_t seed = chaos_seed();
  const fs::path root = fresh_dir("chaos-" + name);
  // Half the runs with isolation (what `qtune tune` does by default: the
  // killed worker's trial child must die with it), half without (the trial
  // dies with its worker); each against the uninterrupted run of its kind,
  // and the two kinds against each other.
  Reference with, without;
  ASSERT_NO_FATAL_FAILURE(reference_run(ranks, true, root / "reference", with));
  ASSERT_NO_FATAL_FAILURE(reference_run(ranks, false, root / "reference-no-isolation", without));
  EXPECT_EQ(with.best_index, without.best_index);
  EXPECT_TRUE(with.best_tensors == without.best_tensors) << "isolation changed the best model";
  std::mt19937_64 rng(seed + static_cast<uint64_t>(ranks));
  int interrupted = 0, partly_done = 0;
  for (int run = 0; run < kRunsPerLaunch; ++run) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    Kill k;
    k.isolation = run % 2 == 0;
    const Reference& ref = k.isolation ? with : without;
    // Each kind's runs spread over its whole span: its k-th of n in the k-th n-th.
    const int stratum = run / 2, strata = kRunsPerLaunch / 2;
    k.delay_s = ref.span_s * (stratum + u) / strata;
    k.rank = ranks > 1 ? run % ranks : 0;
    const std::string what = describe(seed, run, ranks, k, ref.span_s);
    SCOPED_TRACE(what);
    Outcome o;
    ASSERT_NO_FATAL_FAILURE(chaos_run(ranks, root / ("run-" + std::to_string(run)), k, ref, o));
    std::printf("%s: %lld of %d trials finished before the kill%s\n", what.c_str(),
                static_cast<long long>(o.finished_before), kTrials,
                o.interrupted ? "" : " (the trials were all done)");
    interrupted += o.interrupted;
    partly_done += o.interrupted && o.finished_before > 0;
  }
  // Not vacuous: kills cut the trials short, some after a few finished. The
  // bar is low because the spans are timed on a machine of varying load.
  EXPECT_GE(interrupted, kRunsPerLaunch / 4) << "seed " << seed;
  EXPECT_GE(partly_done, 1) << "seed " << seed;
  fs::remove_all(root);
}

TEST(Chaos, KilledSingleProcessResumesToTheUninterruptedResult) { chaos(1, "single"); }

TEST(Chaos, KilledRankUnderMpirunResumesToTheUninterruptedResult) { chaos(3, "mpi"); }

}  // namespace
}  // namespace qtune::testing
