// random and tpe through the binary: mpirun -np 3 (two workers, out-of-order
// completion) records the same trials and the same best as one process;
// --print-space counts the space without running; a quantize --config file
// is a tune search_space block.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

// 4 x 2 x 2 = 16 configs; tpe runs its 10 random start-up trials, then one
// generation of 4 decided from them (max_trials 14). Objective size and
// accuracy are exact numbers, so the trials tpe proposes do not depend on noise.
std::string config(const std::string& strategy, const std::string& grid = "[2, 3, 4, 8]",
                   int max_trials = 14) {
  return R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 1000}
search_space:
  - algorithm: rtn
    params:
      bits: )" +
         grid + R"(
      group_size: [32, -1]
      scheme: [sym, asym]
constraints: {max_accuracy_loss: 0.02}
objective: size
strategy: )" +
         strategy + R"(
max_trials: )" +
         std::to_string(max_trials) + R"(
seed: 5
latency: {batch: 16, runs: 20}
)";
}

struct Outcome {
  std::set<std::string> hashes;
  std::map<std::string, double> accuracy;
  std::vector<Json> configs;
  Json best;
};

Outcome tune(const std::string& strategy, int ranks, const std::string& yaml = "") {
  auto dir = fresh_dir(strategy + "-np" + std::to_string(ranks));
  write_file(dir / "tune.yaml", yaml.empty() ? config(strategy) : yaml);
  const std::string args = "tune --config " + (dir / "tune.yaml").string() + " --out " +
                           (dir / "out").string() + cache_flag();
  auto r = run(ranks > 1 ? mpirun_qtune(ranks, args) : qtune(args));
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string db = " --db " + (dir / "out" / "results.db").string();
  Outcome o;
  for (const auto& t : run_json(qtune("db trials --json" + db))) {
    EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
    o.configs.push_back(t["config"]);
    o.hashes.insert(t["config_hash"].get<std::string>());
    o.accuracy[t["config_hash"].get<std::string>()] = t["accuracy"].get<double>();
  }
  o.best = run_json(qtune("db best --json" + db));
  return o;
}

TEST(TuneStrategies, RandomAndTpeRecordTheSameTrialsAndBestWithOneOrThreeRanks) {
  std::set<std::string> random_hashes;
  for (const std::string strategy : {"random", "tpe"}) {
    const Outcome single = tune(strategy, 1);
    const Outcome mpi = tune(strategy, 3);
    EXPECT_EQ(single.hashes.size(), 14u) << strategy << ": max_trials of the 16";
    EXPECT_EQ(single.hashes, mpi.hashes) << strategy;
    EXPECT_EQ(single.accuracy, mpi.accuracy) << strategy;
    ASSERT_TRUE(single.best.is_object()) << strategy << ": 8-bit trials pass 2%";
    ASSERT_TRUE(mpi.best.is_object()) << strategy;
    EXPECT_EQ(single.best["config_hash"], mpi.best["config_hash"]) << strategy;
    if (strategy == "random")
      random_hashes = single.hashes;
    else
      EXPECT_NE(single.hashes, random_hashes) << "tpe is not random with the same seed";
  }
}

// 2-bit sym/asym x two group sizes fail a 0.5% budget: basic ranks the
// layers of the best candidate and falls back until one passes.
TEST(TuneStrategies, BasicFallsBackAndAgreesUnderMpi) {
  std::string yaml = config("basic", "[2]", 40);
  yaml.replace(yaml.find("max_accuracy_loss: 0.02"), 23, "max_accuracy_loss: 0.005");
  const Outcome single = tune("basic", 1, yaml);
  const Outcome mpi = tune("basic", 3, yaml);
  EXPECT_GT(single.hashes.size(), 4u) << "sensitivity and fallback trials beyond the 4 of the grid";
  EXPECT_EQ(single.hashes, mpi.hashes);
  EXPECT_EQ(single.accuracy, mpi.accuracy);
  bool fell_back = false;
  for (const Json& c : single.configs)
    fell_back = fell_back || !c["overrides"].empty() || c["fp32_layers"].size() > 0;
  EXPECT_TRUE(fell_back);
  ASSERT_TRUE(single.best.is_object()) << "at the end every layer is back to 8 bits or fp32";
  ASSERT_TRUE(mpi.best.is_object());
  EXPECT_EQ(single.best["config_hash"], mpi.best["config_hash"]);
}

TEST(TuneStrategies, PrintSpaceCountsWithoutRunning) {
  auto dir = fresh_dir("print-space");
  write_file(dir / "tune.yaml", config("tpe"));
  const std::string args = "tune --print-space --config " + (dir / "tune.yaml").string() +
                           " --out " + (dir / "out").string() + cache_flag();
  const Json j = run_json(qtune(args + " --json"));
  EXPECT_EQ(j["size"], 16);
  EXPECT_EQ(j["trials_at_most"], 14);
  ASSERT_EQ(j["configs"].size(), 16u);
  std::set<std::string> distinct;
  for (const auto& c : j["configs"]) distinct.insert(c.dump());
  EXPECT_EQ(distinct.size(), 16u);
  auto text = run(qtune(args));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("search space: 16 configs; strategy tpe runs at most 14"),
            std::string::npos)
      << text.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "out")) << "nothing ran, nothing written";
}

TEST(TuneStrategies, AQuantizeConfigIsATuneBlock) {
  auto dir = fresh_dir("quant-block");
  // The tune spelling of overrides (name, type), in a quantize --config file.
  write_file(dir / "q.yaml", R"(algorithm: rtn
params: {bits: 4, group_size: 32}
overrides: [{name: "fc.*", params: {bits: 8}}, {type: Conv2d, params: {group_size: -1}}]
)");
  const Json q =
      run_json(qtune("quantize --json --model builtin:fmnist-cnn-tiny --config " +
                     (dir / "q.yaml").string() + " --out " + (dir / "m").string() + cache_flag()));
  ASSERT_TRUE(q.is_object());
  ASSERT_EQ(q["config"]["overrides"].size(), 2u);
  EXPECT_EQ(q["config"]["overrides"][0]["name_regex"], "fc.*");
  EXPECT_EQ(q["config"]["overrides"][1]["layer_type"], "Conv2d");
  bool fc_at_8 = false, conv_per_channel = false;
  for (const auto& l : q["layers"]) {
    if (!l["quantized"].get<bool>()) continue;
    if (l["kind"] == "Linear" && l["params"]["bits"] == 8) fc_at_8 = true;
    if (l["kind"] == "Conv2d" && l["params"]["group_size"] == -1) conv_per_channel = true;
  }
  EXPECT_TRUE(fc_at_8) << q.dump();
  EXPECT_TRUE(conv_per_channel) << q.dump();
}

}  // namespace
}  // namespace qtune::testing
