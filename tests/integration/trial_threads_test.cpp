// --threads through the binary: the same tuning run on 1 and on 3 threads
// per trial, and under mpirun -np 3 on the ranks' share, records the same
// numbers for every trial (RTN and GPTQ on tiny-lm-micro, static int8 on
// fmnist-cnn-tiny); each trial records the threads it ran on.
#include <gtest/gtest.h>

#include <map>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

const char* kLm = R"(model: builtin:tiny-lm-micro
calibration: {samples: 8}
evaluation: {samples: 24}
search_space:
  - algorithm: rtn
    params: {bits: [3, 4], group_size: 32}
  - algorithm: gptq
    params: {bits: 4, group_size: 32}
objective: accuracy
)";

const char* kClassifier = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 1200}
search_space:
  - algorithm: rtn
    params: {bits: [2, 4]}
  - algorithm: static
objective: accuracy
latency: {batch: 16, runs: 20}
)";

struct Recorded {
  std::map<std::string, double> accuracy;  ///< by config hash
  std::map<std::string, int> threads;
};

Recorded tune(const std::string& name, const char* config, const std::string& launch_flags,
              int ranks = 1) {
  auto dir = fresh_dir(name);
  write_file(dir / "tune.yaml", config);
  const std::string args = "tune --config " + (dir / "tune.yaml").string() + " --out " +
                           (dir / "out").string() + cache_flag() + launch_flags;
  auto r = run(ranks > 1 ? mpirun_qtune(ranks, args) : qtune(args));
  EXPECT_EQ(r.status, 0) << r.err;
  Recorded out;
  for (const auto& t :
       run_json(qtune("db trials --json --db " + (dir / "out" / "results.db").string()))) {
    EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
    const std::string hash = t["config_hash"].get<std::string>();
    out.accuracy[hash] = t["accuracy"].get<double>();
    out.threads[hash] = t["metrics"].value("threads", 0);
  }
  return out;
}

TEST(TrialThreads, OneOrThreeThreadsPerTrialRecordTheSameNumbers) {
  for (const auto& [name, config] : {std::pair{"lm", kLm}, std::pair{"cnn", kClassifier}}) {
    const Recorded one = tune(std::string("threads1-") + name, config, " --threads 1");
    const Recorded three = tune(std::string("threads3-") + name, config, " --threads 3");
    const Recorded mpi = tune(std::string("threads-np3-") + name, config, "", 3);
    ASSERT_EQ(one.accuracy.size(), 3u) << name;
    EXPECT_EQ(three.accuracy, one.accuracy) << name;
    EXPECT_EQ(mpi.accuracy, one.accuracy) << name;
    for (const auto& [hash, t] : one.threads) EXPECT_EQ(t, 1) << name;
    for (const auto& [hash, t] : three.threads) EXPECT_EQ(t, 3) << name;
  }
}

TEST(TrialThreads, ThreadsBelowOneIsAUsageError) {
  const auto r = run(qtune("tune --config no-such.yaml --threads 0"));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("qtune tune: --threads must be at least 1, got 0"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace qtune::testing
