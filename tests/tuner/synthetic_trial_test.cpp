// The scaling benchmark's seam (tuner/synthetic_trial.h) and the farm's cost
// accounting (tuner/farm_cost.h): a synthetic trial sleeps instead of
// quantizing, yet goes through the real coordinator and database.
#include "tuner/synthetic_trial.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "tests/support/temp_dir.h"
#include "tuner/autotune.h"
#include "tuner/farm_cost.h"

namespace qtune {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_synthetic_trial(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SyntheticTrial, ParsesSecondsInRange) {
  EXPECT_DOUBLE_EQ(parse_synthetic_trial("0.25"), 0.25);
  EXPECT_DOUBLE_EQ(parse_synthetic_trial("1"), 1.0);
  EXPECT_DOUBLE_EQ(parse_synthetic_trial("3600"), 3600.0);
  EXPECT_DOUBLE_EQ(parse_synthetic_trial("5e-3"), 0.005);
}

TEST(SyntheticTrial, RefusesWhatIsNotSecondsInRange) {
  for (const std::string bad : {"", "0", "-1", "abc", "1s", "0.5 ", "nan", "inf", "3600.5"}) {
    EXPECT_EQ(error_of(bad),
              "QTUNE_SYNTHETIC_TRIAL: expected seconds in (0, 3600], got '" + bad + "'")
        << bad;
  }
}

TEST(FarmCost, PerTrialMeansAreTotalsOverResults) {
  FarmCost c;
  c.results = 4;
  c.wall_s = 2.0;
  c.thread_cpu_s = 0.002;
  c.process_cpu_s = 0.006;
  c.db_writes = 8;
  c.db_write_wall_s = 0.010;
  c.db_write_cpu_s = 0.001;
  const Json j = c.to_json();
  EXPECT_DOUBLE_EQ(j.at("thread_cpu_ms_per_trial").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j.at("process_cpu_ms_per_trial").get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j.at("db_write_ms_per_trial").get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(j.at("db_write_cpu_ms_per_trial").get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(j.at("trials_per_hour").get<double>(), 7200.0);  // 4 trials in 2 s
  EXPECT_EQ(j.at("db_writes").get<int64_t>(), 8);
}

TEST(FarmCost, NoResultGivesNoMeans) {
  const Json j = FarmCost{}.to_json();
  for (const char* key : {"thread_cpu_ms_per_trial", "process_cpu_ms_per_trial",
                          "db_write_ms_per_trial", "db_write_cpu_ms_per_trial", "trials_per_hour"})
    EXPECT_TRUE(j.at(key).is_null()) << key;
}

// The property the benchmark rests on: sleeping costs wall time, not CPU time.
TEST(FarmCost, CpuClocksDoNotCountASleepButCountWork) {
  const double wall0 = wall_seconds(), cpu0 = thread_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  const double slept_wall = wall_seconds() - wall0, slept_cpu = thread_cpu_seconds() - cpu0;
  EXPECT_GE(slept_wall, 0.06);
  EXPECT_LT(slept_cpu, 0.01);

  const double cpu1 = thread_cpu_seconds(), process1 = process_cpu_seconds();
  volatile double sink = 0;
  for (int i = 0; i < 30'000'000; ++i) sink = sink + i * 1e-9;
  const double worked = thread_cpu_seconds() - cpu1;
  EXPECT_GT(worked, 0.005);
  // The process clock counts this thread too.
  EXPECT_GE(process_cpu_seconds() - process1, worked * 0.99);
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

// A real run on the tiny model (its baseline evaluated for real) whose three
// trials sleep 50 ms each: every row lands in the database, rejected for lack
// of accuracy, and the farm's accounting adds up.
TEST(SyntheticTrial, RunsThroughTheCoordinatorAndTheDatabase) {
  testing::TempDir dir;
  const TuningConfig config = parse_tuning_config(
      "model: builtin:fmnist-cnn-tiny\n"
      "calibration: {samples: 32}\n"
      "evaluation: {samples: 100}\n"
      "search_space:\n"
      "  - algorithm: rtn\n"
      "    params: {bits: [8, 4, 2]}\n"
      "strategy: exhaustive\n"
      "latency: {batch: 8, warmup: 1, runs: 20}\n",
      "synthetic.yaml");
  TuneOptions o;
  o.out_dir = dir.path();
  o.cache_dir = QTUNE_TEST_CACHE_DIR;
  o.print_table = false;
  TuneSummary s;
  {
    ScopedEnv env("QTUNE_SYNTHETIC_TRIAL", "0.05");
    s = run_tuning(config, o);
  }
  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  const auto rows = db.trials(s.run_id);
  ASSERT_EQ(rows.size(), 3u);
  for (const TrialRecord& t : rows) {
    EXPECT_EQ(t.status, "COMPLETED") << t.error;
    EXPECT_DOUBLE_EQ(t.metrics.at("synthetic_trial_s").get<double>(), 0.05);
    EXPECT_GE(t.metrics.at("seconds").get<double>(), 0.05);
    EXPECT_FALSE(t.accuracy);
    EXPECT_EQ(t.passed, std::optional<bool>(false));
    EXPECT_EQ(t.metrics.value("reject_reason", ""), "no accuracy");
  }
  EXPECT_FALSE(s.best);

  const FarmCost& f = s.farm;
  EXPECT_EQ(f.results, 3);
  EXPECT_EQ(f.db_writes, 6);  // RUNNING, then the result, per trial
  // One in-process worker runs the trials one after another.
  EXPECT_GE(f.wall_s, 3 * 0.05);
  EXPECT_GT(f.db_write_wall_s, 0);
  EXPECT_LT(f.db_write_wall_s, f.wall_s);
  EXPECT_LE(f.db_write_cpu_s, f.thread_cpu_s);
  // The process clock counts this thread too; the kernel may settle the
  // running slice into the two clocks at slightly different moments.
  EXPECT_LE(f.thread_cpu_s, f.process_cpu_s * 1.05 + 1e-3);
  // The trials slept: the coordinator's CPU time is a fraction of the wall time.
  EXPECT_LT(f.thread_cpu_s, f.wall_s / 2);
  EXPECT_EQ(s.to_json().at("farm").at("results").get<int64_t>(), 3);
}

}  // namespace
}  // namespace qtune
