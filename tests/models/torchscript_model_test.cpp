// "torchscript:FILE" models: a scripted copy of the built-in CNN (its trained
// weights) computes the built-in model's logits, quantized or not, because
// its graph calls the model's layer slots; static int8 runs each layer's
// int8 kernel inside the graph (checked against the same slots called by
// hand); saved models reload without the original file; bad files are
// one-line errors.
#include "models/torchscript/torchscript_model.h"

#include <gtest/gtest.h>

#include <fstream>

#include "models/builtin.h"
#include "models/compute_threads.h"
#include "models/work_units.h"
#include "storage/artifact.h"
#include "tests/support/expect_error.h"
#include "tests/support/scripted_models.h"
#include "tests/support/temp_dir.h"
#include "tuner/trial_runner.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::TempDir;

ModelOptions test_cache() {
  ModelOptions o;
  o.cache_dir = QTUNE_TEST_CACHE_DIR;
  return o;
}

struct Cnn {
  ModelPtr builtin, scripted;
  TaskData data;
};

/// The built-in tiny CNN and its scripted copy (saved in `dir`), with data.
Cnn cnn_pair(const std::filesystem::path& dir) {
  Cnn c;
  c.builtin = load_model("builtin:fmnist-cnn-tiny", test_cache());
  std::map<std::string, at::Tensor> tensors;
  for (const LayerSlot* s : static_cast<const Model&>(*c.builtin).layers()) {
    tensors[s->name() + ".weight"] = s->weight();
    tensors[s->name() + ".bias"] = *s->bias();
  }
  testing::save_scripted_fmnist_cnn(dir / "cnn.pt", tensors);
  c.scripted = load_model("torchscript:" + (dir / "cnn.pt").string());
  c.data = load_task_data("builtin:fmnist-cnn-tiny", 64, 256, 3, QTUNE_TEST_CACHE_DIR);
  return c;
}

TEST(TorchScriptModel, ScriptedCopyOfTheBuiltinCnnHasItsLayersAndLogits) {
  TempDir dir;
  const Cnn c = cnn_pair(dir.path());
  const auto layers = static_cast<const Model&>(*c.scripted).layers();
  ASSERT_EQ(layers.size(), 4u);
  const std::vector<std::string> names{"conv1", "conv2", "fc1", "fc2"};
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSlot& b = c.builtin->layer(names[i]);
    EXPECT_EQ(layers[i]->name(), names[i]);
    EXPECT_EQ(layers[i]->kind(), b.kind());
    EXPECT_EQ(layers[i]->geometry().padding, b.geometry().padding);
    EXPECT_TRUE(at::equal(layers[i]->weight(), b.weight())) << names[i];
  }
  at::NoGradGuard no_grad;
  const at::Tensor x = c.data.evaluation.inputs;
  EXPECT_TRUE(at::equal(c.scripted->forward(x), c.builtin->forward(x)));
}

TEST(TorchScriptModel, QuantizedLayersRunInsideTheGraph) {
  TempDir dir;
  const Cnn c = cnn_pair(dir.path());
  CalibrationData calibration;
  calibration.batches = c.data.calibration.input_batches(32);
  calibration.labels = c.data.calibration.label_batches(32);
  at::NoGradGuard no_grad;
  const at::Tensor x = c.data.evaluation.inputs;
  // Weight-only: the scripted model's quantized forward is the built-in's.
  for (const char* text : {R"({"algorithm": "rtn", "params": {"bits": 3, "group_size": 16}})",
                           R"({"algorithm": "gptq", "params": {"bits": 4, "group_size": 32}})"}) {
    const QuantConfig qc = QuantConfig::from_json(Json::parse(text), "test");
    const ModelPtr qb = quantize_clone(*c.builtin, qc, calibration, nullptr);
    const ModelPtr qs = quantize_clone(*c.scripted, qc, calibration, nullptr);
    EXPECT_TRUE(at::equal(qs->forward(x), qb->forward(x))) << qc.algorithm;
    EXPECT_FALSE(at::equal(qs->forward(x), c.scripted->forward(x))) << qc.algorithm;
  }
  // Static int8: each layer quantizes its own input inside the graph. The
  // reference calls the same slots by hand in the graph's order.
  const QuantConfig qc = QuantConfig::from_json(Json::parse(R"({"algorithm": "static"})"), "test");
  const ModelPtr qs = quantize_clone(*c.scripted, qc, calibration, nullptr);
  const auto q = static_cast<const Model&>(*qs).layers();
  ASSERT_TRUE(q[0]->quantized());
  at::Tensor h = at::max_pool2d(at::relu((*q[0])(x)), {2, 2});
  h = at::max_pool2d(at::relu((*q[1])(h)), {2, 2});
  h = (*q[3])(at::relu((*q[2])(h.flatten(1))));
  EXPECT_TRUE(at::equal(qs->forward(x), h));
}

TEST(TorchScriptModel, ForwardOnSeveralThreadsGivesTheSameBits) {
  TempDir dir;
  testing::save_scripted_mlp(dir / "mlp.pt", 3);
  const ModelPtr m = load_model("torchscript:" + (dir / "mlp.pt").string());
  const at::Tensor x = at::rand({48, 1, 28, 28});
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> sequential(6), concurrent(6);
  {
    ComputeThreadsScope one(1);
    for (int64_t u = 0; u < 6; ++u) sequential[u] = m->forward(x.slice(0, u * 8, u * 8 + 8));
  }
  WorkUnitThreadsScope threads(3);
  for_each_unit(6, [&](int64_t u) { concurrent[u] = m->forward(x.slice(0, u * 8, u * 8 + 8)); });
  EXPECT_TRUE(at::equal(at::cat(concurrent), at::cat(sequential)));
  const at::Tensor one = m->forward(x);
  // The MLP's own arithmetic, written out.
  const auto l = static_cast<const Model&>(*m).layers();
  const at::Tensor ref =
      at::linear(at::relu(at::linear(x.flatten(1), l[0]->weight(), *l[0]->bias())), l[1]->weight(),
                 *l[1]->bias());
  EXPECT_TRUE(at::allclose(one, ref, 1e-5, 1e-6));
}

TEST(TorchScriptModel, SavedModelReloadsWithoutTheOriginalFile) {
  TempDir dir;
  const Cnn c = cnn_pair(dir.path());
  const QuantConfig qc =
      QuantConfig::from_json(Json::parse(R"({"algorithm": "rtn", "params": {"bits": 4}})"), "t");
  std::vector<LayerReport> reports;
  const ModelPtr q = quantize_clone(*c.scripted, qc, {}, &reports);
  save_model(*q, dir / "saved", qc, reports);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "saved" / kTorchScriptFile));
  std::filesystem::remove(dir / "cnn.pt");
  SavedModelInfo info;
  const ModelPtr back = load_saved_model(dir / "saved", &info);
  EXPECT_EQ(info.model_spec, "torchscript:" + (dir / "cnn.pt").string());
  at::NoGradGuard no_grad;
  const at::Tensor x = c.data.evaluation.inputs;
  EXPECT_TRUE(at::equal(back->forward(x), q->forward(x)));
}

TEST(TorchScriptModel, BadFilesAreOneLineErrors) {
  TempDir dir;
  expect_error([&] { load_model("torchscript:" + (dir / "none.pt").string()); },
               (dir / "none.pt").string() + ": no such TorchScript file");
  std::ofstream(dir / "junk.pt") << "not a zip archive";
  expect_error([&] { load_model("torchscript:" + (dir / "junk.pt").string()); },
               (dir / "junk.pt").string() + ": not a TorchScript file (");
  torch::jit::Module plain(c10::QualifiedName("__torch__.Plain"));
  plain.define("def forward(self, x):\n    return x * 2.0\n");
  plain.save((dir / "plain.pt").string());
  expect_error([&] { load_model("torchscript:" + (dir / "plain.pt").string()); },
               (dir / "plain.pt").string() + ": no Linear or Conv2d layer");
  ModelOptions o;
  o.weights_dtype = at::kBFloat16;
  expect_error([&] { load_model("torchscript:" + (dir / "plain.pt").string(), o); },
               "are for language models; a TorchScript model keeps float32");
}

}  // namespace
}  // namespace qtune
