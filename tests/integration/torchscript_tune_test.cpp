// A TorchScript CNN tuned end to end through the binary: the scripted copy of
// fmnist-cnn-tiny (its weights, its normalisation given in the config) records
// the weight-only trials' accuracy of the built-in model itself; static int8
// (each layer requantizing its input inside the graph, where the built-in CNN
// keeps activations int8 between layers) lands close to it; the saved best
// model evaluates to its recorded accuracy after the .pt file is gone.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "models/builtin.h"
#include "tests/integration/run_command.h"
#include "tests/support/scripted_models.h"

namespace qtune::testing {
namespace {

const char* kSpace = R"(evaluation: {samples: 600}
search_space:
  - algorithm: rtn
    params: {bits: [2, 4]}
  - algorithm: gptq
    params: {bits: 3}
  - algorithm: static
objective: accuracy
latency: {batch: 16, runs: 20}
)";

struct Trial {
  double accuracy = 0;
  std::string algorithm;
};

std::map<std::string, Trial> tune(const std::filesystem::path& dir, const std::string& head) {
  std::filesystem::create_directories(dir);
  write_file(dir / "tune.yaml", head + kSpace);
  const auto r = run(qtune("tune --config " + (dir / "tune.yaml").string() + " --out " +
                           (dir / "out").string() + cache_flag()));
  EXPECT_EQ(r.status, 0) << r.err;
  std::map<std::string, Trial> out;
  for (const auto& t :
       run_json(qtune("db trials --json --db " + (dir / "out" / "results.db").string()))) {
    EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
    out[t["config_hash"].get<std::string>()] = {t["accuracy"].get<double>(),
                                                t["algorithm"].get<std::string>()};
  }
  return out;
}

TEST(TorchScriptTune, ScriptedCnnRecordsTheBuiltinModelsWeightOnlyNumbers) {
  const auto dir = fresh_dir("torchscript-tune");
  ModelOptions o;
  o.cache_dir = QTUNE_TEST_CACHE_DIR;
  const ModelPtr builtin = load_model("builtin:fmnist-cnn-tiny", o);
  std::map<std::string, at::Tensor> tensors;
  for (const LayerSlot* s : static_cast<const Model&>(*builtin).layers()) {
    tensors[s->name() + ".weight"] = s->weight();
    tensors[s->name() + ".bias"] = *s->bias();
  }
  save_scripted_fmnist_cnn(dir / "cnn.pt", tensors);

  const auto reference =
      tune(dir / "builtin", "model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 64}\n");
  const auto scripted = tune(dir / "scripted", "model: torchscript:" + (dir / "cnn.pt").string() +
                                                   "\ncalibration: {samples: 64, normalize: "
                                                   "{mean: 0.2860, std: 0.3530}}\n");
  ASSERT_EQ(scripted.size(), 4u);
  ASSERT_EQ(reference.size(), 4u);
  for (const auto& [hash, t] : scripted) {
    ASSERT_TRUE(reference.count(hash)) << t.algorithm;
    if (t.algorithm == "static")
      EXPECT_NEAR(t.accuracy, reference.at(hash).accuracy, 0.02);
    else
      EXPECT_EQ(t.accuracy, reference.at(hash).accuracy) << t.algorithm;
  }

  // The saved best reloads from its own copy of the module.
  std::filesystem::remove(dir / "cnn.pt");
  const Json best =
      run_json(qtune("db best --json --db " + (dir / "scripted" / "out" / "results.db").string()));
  const Json eval = run_json(qtune("eval --json --samples 600 --model " +
                                   (dir / "scripted" / "out" / "best").string() + cache_flag()));
  ASSERT_TRUE(best.contains("accuracy")) << best.dump();
  EXPECT_EQ(eval["value"], best["accuracy"]) << eval.dump();
}

}  // namespace
}  // namespace qtune::testing
