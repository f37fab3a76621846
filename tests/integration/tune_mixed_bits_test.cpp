// strategy: mixed-bits through the binary on fmnist-cnn-tiny: the uniform
// trials, one sensitivity probe per layer and width (recorded as such, never
// the best), the allocations; mpirun -np 3 records the same trials and best.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

// g32 with fp32 scales: 2, 3, 4, 8 bits store 3, 4.2, 5, 9 bits per weight;
// 4.5 lets some layers stay at 4 bits.
const char* kConfig = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 1000}
search_space:
  - algorithm: rtn
    params: {bits: 4, group_size: 32, scheme: sym}
constraints: {max_accuracy_loss: 0.05, max_bits_per_weight: 4.5}
objective: accuracy
strategy: {name: mixed-bits, widths: [2, 3, 4, 8]}
max_trials: 8
seed: 5
latency: {batch: 16, runs: 20}
)";

struct Outcome {
  std::map<std::string, double> accuracy;  ///< by config hash
  std::set<std::string> probes;
  std::map<std::string, double> bpw;
  std::set<std::string> all_fp32;  ///< trials with no layer quantized
  Json best;
  Json saved_config;
};

Outcome tune(int ranks) {
  auto dir = fresh_dir("mixed-bits-np" + std::to_string(ranks));
  write_file(dir / "tune.yaml", kConfig);
  const std::string args = "tune --config " + (dir / "tune.yaml").string() + " --out " +
                           (dir / "out").string() + cache_flag();
  auto r = run(ranks > 1 ? mpirun_qtune(ranks, args) : qtune(args));
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string db = " --db " + (dir / "out" / "results.db").string();
  Outcome o;
  for (const auto& t : run_json(qtune("db trials --json" + db))) {
    EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
    const std::string hash = t["config_hash"].get<std::string>();
    o.accuracy[hash] = t["accuracy"].get<double>();
    const bool probe = t["metrics"].value("task", "") == "sensitivity";
    if (probe) o.probes.insert(hash);
    // Probes are scored on the calibration set, candidates on the evaluation set.
    EXPECT_EQ(t["metrics"].value("scored_on", "evaluation"), probe ? "calibration" : "evaluation")
        << t.dump();
    EXPECT_EQ(t["accuracy_loss"].is_null(), probe) << "a probe has no loss against the baseline";
    if (t["metrics"].contains("bits_per_weight"))
      o.bpw[hash] = t["metrics"]["bits_per_weight"].get<double>();
    else
      o.all_fp32.insert(hash);
  }
  o.best = run_json(qtune("db best --json" + db));
  o.saved_config = Json::parse(slurp(dir / "out" / "best" / "qconfig.json"))["quant_config"];
  return o;
}

TEST(TuneMixedBits, ProbesEveryLayerAndWidthSavesAnAllocationWithinTheBudget) {
  const Outcome single = tune(1);
  const Outcome mpi = tune(3);
  // fmnist-cnn-tiny has 4 quantizable layers: 4 x 4 probes, and one with
  // every layer fp32 that the probes' losses are measured against.
  EXPECT_EQ(single.probes.size(), 17u);
  ASSERT_EQ(single.all_fp32.size(), 1u);
  EXPECT_EQ(single.probes.count(*single.all_fp32.begin()), 1u);
  EXPECT_GT(single.accuracy.size(), 17u + 4u) << "4 uniform trials and at least one allocation";
  EXPECT_LE(single.accuracy.size() - single.probes.size(), 8u) << "max_trials leaves out probes";
  ASSERT_TRUE(single.best.is_object()) << "uniform 2 and 3 bits fit 4.5 bits per weight";
  const std::string best = single.best["config_hash"].get<std::string>();
  EXPECT_EQ(single.probes.count(best), 0u) << "a probe is never the best";
  EXPECT_LE(single.bpw.at(best), 4.5);
  // Compared with keys sorted (the database stores the canonical form).
  EXPECT_EQ(nlohmann::json::parse(single.saved_config.dump()),
            nlohmann::json::parse(single.best["config"].dump()))
      << "the saved model is the best trial";
  EXPECT_EQ(single.accuracy, mpi.accuracy);
  EXPECT_EQ(single.probes, mpi.probes);
  ASSERT_TRUE(mpi.best.is_object());
  EXPECT_EQ(mpi.best["config_hash"], single.best["config_hash"]);
  EXPECT_EQ(single.saved_config, mpi.saved_config);
}

}  // namespace
}  // namespace qtune::testing
