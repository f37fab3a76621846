// The scaling benchmark's trial through the binary (scripts/scaling_bench.sh):
// under mpirun with crash isolation on, QTUNE_SYNTHETIC_TRIAL trials are farmed
// to both workers, recorded, and counted in --json's "farm"; a bad value is
// refused in one line before anything is written.
#include <gtest/gtest.h>

#include <set>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

const char* kConfig = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 32}
evaluation: {samples: 100}
search_space:
  - algorithm: rtn
    params:
      bits: [2, 4, 8]
      group_size: [32, -1]
strategy: exhaustive
latency: {batch: 8, warmup: 1, runs: 20}
)";

TEST(SyntheticTrialCli, FarmsSleepingTrialsToEveryWorkerUnderMpirun) {
  const auto dir = fresh_dir("synthetic");
  write_file(dir / "tune.yaml", kConfig);
  const Json s = run_json("QTUNE_SYNTHETIC_TRIAL=0.2 " +
                          mpirun_qtune(3, "tune --json --config " + (dir / "tune.yaml").string() +
                                              " --out " + (dir / "out").string() + cache_flag()));
  ASSERT_TRUE(s.is_object()) << s.dump();
  const Json& trials = s.at("trials");
  ASSERT_EQ(trials.size(), 6u);
  std::set<int> ranks;
  for (const Json& t : trials) {
    EXPECT_EQ(t.at("status"), "COMPLETED") << t.dump();
    EXPECT_DOUBLE_EQ(t.at("metrics").at("synthetic_trial_s").get<double>(), 0.2);
    ranks.insert(t.at("rank").get<int>());
  }
  EXPECT_EQ(ranks, (std::set<int>{1, 2}));
  const Json& farm = s.at("farm");
  EXPECT_EQ(farm.at("results").get<int64_t>(), 6);
  EXPECT_EQ(farm.at("db_writes").get<int64_t>(), 12);
  // Two workers, three 0.2 s trials each, at the least.
  EXPECT_GE(farm.at("wall_s").get<double>(), 0.6);
  EXPECT_GT(farm.at("thread_cpu_ms_per_trial").get<double>(), 0);
  EXPECT_LT(farm.at("thread_cpu_s").get<double>(), farm.at("wall_s").get<double>());
  std::filesystem::remove_all(dir);
}

TEST(SyntheticTrialCli, RefusesABadValueBeforeWritingAnything) {
  const auto dir = fresh_dir("synthetic-bad");
  write_file(dir / "tune.yaml", kConfig);
  const CommandResult r =
      run("QTUNE_SYNTHETIC_TRIAL=fast " + qtune("tune --config " + (dir / "tune.yaml").string() +
                                                " --out " + (dir / "out").string() + cache_flag()));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "qtune: error: QTUNE_SYNTHETIC_TRIAL: expected seconds in (0, 3600], got 'fast'\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qtune::testing
