// fmnist-cnn's forward with every layer static int8 runs the codes chain
// (backends/int8_chain.h): its logits equal the plain layer-by-layer forward on
// the same kernels bit for bit, a saved model reproduces them, and onednn's
// chain classifies the test set as the eager reference's does within 0.1 point.
#include <gtest/gtest.h>

#include "backends/int8_chain.h"
#include "backends/onednn/onednn_int8.h"
#include "models/builtin.h"
#include "quantizers/quantizer.h"
#include "storage/artifact.h"
#include "support/temp_dir.h"

namespace qtune {
namespace {

const char* kSpec = "builtin:fmnist-cnn-tiny";

const TaskData& task() {
  static const TaskData t = load_task_data(kSpec, 512, 10000, 3, QTUNE_TEST_CACHE_DIR);
  return t;
}

ModelPtr static_int8(const std::string& backend, std::vector<LayerReport>* reports = nullptr) {
  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  ModelPtr m = load_model(kSpec, mo);
  CalibrationData calib;
  calib.batches = task().calibration.input_batches(128);
  const QuantConfig config =
      QuantConfig::from_json(Json{{"algorithm", "static"}, {"backend", backend}}, "test");
  auto r = quantizer_by_name("static").quantize(*m, config, calib);
  if (reports) *reports = r;
  return m;
}

/// The forward without the chain: each layer from fp32, ReLU, max-pool, flatten.
at::Tensor plain_forward(const Model& m, const at::Tensor& x) {
  const auto l = m.layers();
  at::Tensor h = at::max_pool2d(l[0]->forward_relu(x), {2, 2});
  h = at::max_pool2d(l[1]->forward_relu(h), {2, 2});
  h = l[2]->forward_relu(h.flatten(1));
  return (*l[3])(h);
}

std::vector<std::string> backends_here() {
  std::vector<std::string> names{"eager", "native"};
  std::string why;
  if (onednn_int8_accelerated(&why)) names.push_back("onednn");
  return names;
}

TEST(FmnistInt8Chain, ChainedForwardIsThePlainForward) {
  for (const std::string& b : backends_here()) {
    const ModelPtr m = static_int8(b);
    for (const LayerSlot* s : m->layers()) {
      ASSERT_EQ(s->kernel()->backend(), b) << s->name();
      ASSERT_NE(codes_kernel(*s->kernel()), nullptr) << b << " " << s->name();
    }
    for (int64_t batch : {1, 3, 64}) {
      const at::Tensor x = task().evaluation.inputs.narrow(0, 0, batch).contiguous();
      const at::Tensor chained = m->forward(x);
      const at::Tensor plain = plain_forward(*m, x);
      EXPECT_TRUE(at::equal(chained, plain)) << b << " batch " << batch << ": max difference "
                                             << (chained - plain).abs().max().item<float>();
      EXPECT_GT(chained.abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(FmnistInt8Chain, OnednnTop1WithinATenthOfAPointOfEager) {
  std::string why;
  if (!onednn_int8_accelerated(&why)) GTEST_SKIP() << "oneDNN has no int8 dot product on " << why;
  const double eager = task().evaluate(*static_int8("eager")).value;
  const double onednn = task().evaluate(*static_int8("onednn")).value;
  std::printf("fmnist-cnn-tiny static int8 top-1 over %lld images: eager %.4f onednn %.4f\n",
              static_cast<long long>(task().evaluation.size()), eager, onednn);
  EXPECT_GT(eager, 0.5);  // a trained model, not a vacuous comparison
  EXPECT_NEAR(onednn, eager, 0.001);
}

TEST(FmnistInt8Chain, SavedModelReproducesTheChainedResult) {
  for (const std::string& b : backends_here()) {
    std::vector<LayerReport> reports;
    const ModelPtr m = static_int8(b, &reports);
    testing::TempDir dir;
    QuantConfig config;
    config.algorithm = "static";
    config.backend = b;
    save_model(*m, dir / "m", config, reports);
    const ModelPtr loaded = load_saved_model(dir / "m");
    const at::Tensor x = task().evaluation.inputs.narrow(0, 0, 256).contiguous();
    EXPECT_TRUE(at::equal(loaded->forward(x), m->forward(x))) << b;
    EXPECT_EQ(task().evaluate(*loaded).value, task().evaluate(*m).value) << b;
  }
}

}  // namespace
}  // namespace qtune
