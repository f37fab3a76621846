// Crash isolation through the binary: trials made to crash for real
// (QTUNE_CRASH_TRIAL, README "Crash isolation") end FAILED with the signal
// named while the other trials complete, single-process and under mpirun; a
// run whose every trial crashed exits 1 naming the crash; --no-isolation (or
// the config's isolation: false) lets the crash take the run down; a hung
// trial is killed at trial_timeout.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

// Six trials on the tiny model.
const char* kConfig = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 500}
search_space:
  - algorithm: rtn
    params:
      bits: [2, 4, 8]
      group_size: [32, -1]
constraints: {max_accuracy_loss: 0.5}
objective: size
strategy: exhaustive
max_trials: 10
seed: 7
latency: {batch: 16, runs: 20}
)";

struct TuneRun {
  CommandResult result;
  Json trials;  ///< qtune db trials --json, in index order
};

TuneRun tune_with_crashes(const std::string& name, int ranks, const std::string& crashes,
                          const std::string& extra_flags = "",
                          const std::string& config = kConfig) {
  const auto dir = fresh_dir(name);
  write_file(dir / "tune.yaml", config);
  const std::string args = "tune --config " + (dir / "tune.yaml").string() + " --out " +
                           (dir / "out").string() + cache_flag() + extra_flags;
  const std::string env = "QTUNE_CRASH_TRIAL=" + crashes + " ";
  TuneRun r;
  r.result = run(env + (ranks > 1 ? mpirun_qtune(ranks, args) : qtune(args)));
  auto db = run(qtune("db trials --json --db " + (dir / "out" / "results.db").string()));
  EXPECT_EQ(db.status, 0) << db.err;
  r.trials = Json::parse(db.out);
  std::sort(r.trials.begin(), r.trials.end(),
            [](const Json& a, const Json& b) { return a["index"] < b["index"]; });
  return r;
}

void expect_crashed_and_completed(const TuneRun& r) {
  EXPECT_EQ(r.result.status, 0) << r.result.err;
  ASSERT_EQ(r.trials.size(), 6u) << r.trials.dump();
  for (const Json& t : r.trials) {
    const int64_t index = t["index"].get<int64_t>();
    if (index == 1) {
      EXPECT_EQ(t["status"], "FAILED");
      EXPECT_EQ(t["error"], "trial crashed: SIGSEGV (signal 11)");
    } else if (index == 4) {
      EXPECT_EQ(t["status"], "FAILED");
      EXPECT_EQ(t["error"], "trial crashed: SIGABRT (signal 6)");
    } else {
      EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
      EXPECT_TRUE(t["accuracy"].is_number()) << t.dump();
    }
  }
}

TEST(CrashIsolation, CrashedTrialsFailWithTheSignalAndTheRestComplete) {
  const TuneRun r = tune_with_crashes("crash-single", 1, "1:segv,4:abort");
  expect_crashed_and_completed(r);
  // The child measured latency on the worker's share of the cores (two here,
  // more than one anywhere with two cores) without hanging on OpenMP.
  for (const Json& t : r.trials)
    if (t["status"] == "COMPLETED")
      EXPECT_EQ(t["metrics"]["latency_threads"].get<int>(),
                std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
}

TEST(CrashIsolation, UnderMpirunWorkersSurviveTheirTrialsCrashes) {
  expect_crashed_and_completed(tune_with_crashes("crash-mpi", 3, "1:segv,4:abort"));
}

TEST(CrashIsolation, EveryTrialKilledExitsOneNamingTheSignal) {
  const TuneRun r = tune_with_crashes("crash-all", 1, "0:kill,1:kill,2:kill,3:kill,4:kill,5:kill");
  EXPECT_EQ(r.result.status, 1) << r.result.err;
  EXPECT_NE(r.result.err.find("all 6 trials of run 1 failed; the commonest error (6 of 6): "
                              "trial crashed: SIGKILL (signal 9)"),
            std::string::npos)
      << r.result.err;
  for (const Json& t : r.trials) EXPECT_EQ(t["status"], "FAILED") << t.dump();
}

TEST(CrashIsolation, WithoutIsolationACrashEndsTheRun) {
  const TuneRun r = tune_with_crashes("crash-off", 1, "1:segv", " --no-isolation");
  EXPECT_EQ(r.result.status, 128 + 11) << r.result.err;
  // Trial 0 finished, trial 1 was left RUNNING by the dead process.
  ASSERT_EQ(r.trials.size(), 2u) << r.trials.dump();
  EXPECT_EQ(r.trials[0]["status"], "COMPLETED");
  EXPECT_EQ(r.trials[1]["status"], "RUNNING");
}

// The config's `isolation: false` is --no-isolation written down; the flag
// turns isolation off whatever the config says.
TEST(CrashIsolation, ConfigIsolationFalseLetsTheCrashEndTheRun) {
  const TuneRun r = tune_with_crashes("crash-config-off", 1, "0:segv", "",
                                      std::string(kConfig) + "isolation: false\n");
  EXPECT_EQ(r.result.status, 128 + 11) << r.result.err;
  ASSERT_EQ(r.trials.size(), 1u) << r.trials.dump();
  EXPECT_EQ(r.trials[0]["status"], "RUNNING");
}

TEST(CrashIsolation, NoIsolationFlagWinsOverTheConfig) {
  const TuneRun r = tune_with_crashes("crash-flag-wins", 1, "0:segv", " --no-isolation",
                                      std::string(kConfig) + "isolation: true\n");
  EXPECT_EQ(r.result.status, 128 + 11) << r.result.err;
  ASSERT_EQ(r.trials.size(), 1u) << r.trials.dump();
  EXPECT_EQ(r.trials[0]["status"], "RUNNING");
}

// A trial that hangs inside a phase never reaches the between-phases check:
// its worker kills it at trial_timeout and goes on. The limit is far above
// what a trial of this model takes (about a second), so only the hang meets it.
TEST(CrashIsolation, HungTrialIsKilledAtTrialTimeout) {
  const char* config = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 500}
search_space:
  - algorithm: rtn
    params: {bits: [4, 8], group_size: -1}
constraints: {max_accuracy_loss: 0.5}
objective: size
strategy: exhaustive
trial_timeout: 6
seed: 7
latency: {batch: 16, runs: 20}
)";
  const TuneRun r = tune_with_crashes("crash-hang", 1, "0:hang", "", config);
  EXPECT_EQ(r.result.status, 0) << r.result.err;
  ASSERT_EQ(r.trials.size(), 2u) << r.trials.dump();
  EXPECT_EQ(r.trials[0]["status"], "TIMEOUT");
  EXPECT_EQ(r.trials[0]["error"], "exceeded trial_timeout of 6s: its process was killed (SIGKILL)");
  EXPECT_EQ(r.trials[1]["status"], "COMPLETED") << r.trials[1].dump();
  EXPECT_TRUE(r.trials[1]["accuracy"].is_number()) << r.trials[1].dump();
}

TEST(CrashIsolation, BadCrashSpecFailsBeforeAnythingRuns) {
  const auto dir = fresh_dir("crash-bad");
  write_file(dir / "tune.yaml", kConfig);
  const auto r =
      run("QTUNE_CRASH_TRIAL=1:boom " + qtune("tune --config " + (dir / "tune.yaml").string() +
                                              " --out " + (dir / "out").string() + cache_flag()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("QTUNE_CRASH_TRIAL: entry '1:boom': expected INDEX:KIND with KIND segv, "
                       "abort, kill or hang"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "results.db"));
}

}  // namespace
}  // namespace qtune::testing
