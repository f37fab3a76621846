// TEQ: trained per-channel scales lower the block loss below the RTN start,
// zero steps is RTN, and the trained scales fold without changing fp32 output.
#include <gtest/gtest.h>

#include "backends/layer_kernel.h"
#include "models/builtin.h"
#include "outlier_mlp.h"
#include "quant/quantize.h"
#include "quantizers/quantizer.h"
#include "quantizers/woq_train.h"
#include "support/expect_error.h"

namespace qtune {
namespace {

using testing::calibration_of;
using testing::OutlierMlp;
using testing::output_mse;
using testing::quant_config;
using testing::quantized_copy;

// TEQ trains through fake_quantize_ste: its values must be RTN's exactly, on
// partial groups, per channel, full range and asym alike.
TEST(Teq, DifferentiableFakeQuantMatchesCoreBitForBit) {
  at::manual_seed(11);
  const at::Tensor w = at::randn({7, 45}).pow(3);
  for (const Json& p : {Json{{"bits", 4}, {"group_size", 16}, {"scheme", "sym"}},
                        Json{{"bits", 3}, {"group_size", 20}, {"scheme", "asym"}},
                        Json{{"bits", 4}, {"group_size", -1}, {"use_full_range", true}},
                        Json{{"bits", 1}, {"group_size", 8}}}) {
    Json full = Json{{"bits", 4},
                     {"group_size", 32},
                     {"scheme", "sym"},
                     {"use_full_range", false},
                     {"dtype", "int"}};
    for (auto it = p.begin(); it != p.end(); ++it) full[it.key()] = it.value();
    QuantSpec spec;
    spec.bits = full["bits"].get<int>();
    spec.group_size = full["group_size"] == -1 ? 32 : full["group_size"].get<int64_t>();
    spec.granularity = full["group_size"] == -1 ? Granularity::kPerChannel : Granularity::kPerGroup;
    spec.scheme = scheme_from_string(full["scheme"].get<std::string>());
    spec.full_range = full["use_full_range"].get<bool>();
    const at::Tensor leaf = w.clone().requires_grad_(true);
    const at::Tensor fq = fake_quantize_ste(leaf, spec);
    EXPECT_TRUE(at::equal(fq.detach(), fake_quantize(w, spec))) << p.dump();
    fq.sum().backward();
    ASSERT_TRUE(leaf.grad().defined());
    EXPECT_TRUE(at::isfinite(leaf.grad()).all().item<bool>()) << p.dump();
  }
}

TEST(Teq, ZeroStepsIsRtn) {
  const OutlierMlp fp(5, 2);
  const CalibrationData calib = calibration_of(OutlierMlp::inputs(7, 64), 16);
  const Json p{{"bits", 3}, {"group_size", 16}};
  Json teq = p;
  teq["train_iters"] = 0;
  teq["folding"] = false;
  const at::Tensor x = OutlierMlp::inputs(8, 32);
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(quantized_copy(fp, quant_config("teq", teq), calib)->forward(x),
                        quantized_copy(fp, quant_config("rtn", p), calib)->forward(x)));
}

TEST(Teq, TrainingLowersTheBlockLossBelowRtn) {
  // One block: the model output is the block output, so this is TEQ's own loss.
  const OutlierMlp fp(5, 1);
  const at::Tensor x = OutlierMlp::inputs(7, 128);
  const CalibrationData calib = calibration_of(x, 32);
  for (bool folding : {false, true}) {
    const Json p{{"bits", 3}, {"group_size", 32}};
    Json teq = p;
    teq["train_iters"] = 300;
    teq["folding"] = folding;
    const double rtn = output_mse(*quantized_copy(fp, quant_config("rtn", p), calib), fp, x);
    const ModelPtr m = quantized_copy(fp, quant_config("teq", teq), calib);
    const double trained = output_mse(*m, fp, x);
    EXPECT_LT(trained, rtn) << "folding " << folding;
    std::printf("outlier MLP W3g32 folding=%d: block loss rtn %.5g teq %.5g\n", folding, rtn,
                trained);
    // folding=true leaves up (fed by the residual stream) without a multiplier.
    EXPECT_EQ(m->layer("b0.up").input_multiplier().defined(), !folding);
  }
}

// The best iterate is kept, the start (RTN) included, so however training
// goes -- here also with a step 5000x the default, whose first step already
// multiplies or divides every channel by ~5 -- TEQ's loss (the block output's MSE over its
// calibration samples, the whole model for one block) never ends above RTN's, on any machine; when
// the start wins, the model is RTN's bit for bit. (FmnistCnnBlockLossBelowRtn
// below meets a run whose last iterate ends above RTN, with the weights an AVX2
// CPU trains.)
TEST(Teq, NeverEndsAboveRtnOnItsOwnLoss) {
  const OutlierMlp fp(5, 1);
  const at::Tensor x = OutlierMlp::inputs(7, 128);
  const CalibrationData calib = calibration_of(x, 32);
  for (double lr : {1e-3, 5.0})
    for (bool folding : {false, true}) {
      const Json p{{"bits", 3}, {"group_size", 32}};
      Json teq = p;
      teq["train_iters"] = 40;
      teq["lr"] = lr;
      teq["folding"] = folding;
      const ModelPtr r = quantized_copy(fp, quant_config("rtn", p), calib);
      const ModelPtr t = quantized_copy(fp, quant_config("teq", teq), calib);
      const double rtn = output_mse(*r, fp, x), trained = output_mse(*t, fp, x);
      EXPECT_LE(trained, rtn) << "lr " << lr << " folding " << folding;
      at::NoGradGuard no_grad;
      if (trained == rtn) {
        EXPECT_TRUE(at::equal(t->forward(x), r->forward(x))) << "lr " << lr;
      }
    }
}

TEST(Teq, TrainedScalesFoldWithoutChangingTheFp32Function) {
  const OutlierMlp fp(5, 2);
  const CalibrationData calib = calibration_of(OutlierMlp::inputs(7, 64), 16);
  ModelPtr m = quantized_copy(
      fp, quant_config("teq", {{"bits", 3}, {"train_iters", 50}, {"folding", false}}), calib);
  double changed = 0;
  const auto fp_layers = static_cast<const Model&>(fp).layers();
  const auto layers = m->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerSlot* s = layers[i];
    changed = std::max(changed, (s->weight() - fp_layers[i]->weight()).abs().max().item<double>());
    s->set_kernel(make_fp32_kernel(s->kind(), s->weight(), s->bias(), s->geometry()));
  }
  EXPECT_GT(changed, 1e-4);  // 50 Adam steps of 1e-3 moved the scales
  const at::Tensor x = OutlierMlp::inputs(8, 32);
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(m->forward(x), fp.forward(x), 1e-5, 1e-4));
}

TEST(Teq, ValidatesParams) {
  testing::expect_error(
      [] {
        QuantConfig::from_json(Json{{"algorithm", "teq"}, {"params", {{"train_iters", -1}}}},
                               "cfg");
      },
      "train_iters");
  OutlierMlp m(1, 1);
  testing::expect_error([&] { quantize(m, quant_config("teq", Json::object())); },
                        "needs calibration data");
}

TEST(Teq, FmnistCnnBlockLossBelowRtn) {
  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  const ModelPtr fp = load_model("builtin:fmnist-cnn-tiny", mo);
  const TaskData data = load_task_data("builtin:fmnist-cnn-tiny", 128, 64, 3);
  CalibrationData calib;
  calib.batches = data.calibration.input_batches(32);
  const at::Tensor x = data.calibration.inputs;
  const Json p{{"bits", 3}, {"group_size", 16}};
  Json teq = p;
  teq["train_iters"] = 100;
  const double rtn = output_mse(*quantized_copy(*fp, quant_config("rtn", p), calib), *fp, x);
  const double trained = output_mse(*quantized_copy(*fp, quant_config("teq", teq), calib), *fp, x);
  // <=, not <: the tiny model's weights depend on the BLAS that trained it,
  // and how much TEQ gains on them with it (7% on weights trained on an AVX2
  // CPU; its last iterate was 8% above RTN there). The strict gain is tested
  // on the outlier MLP, where it is large.
  EXPECT_LE(trained, rtn);
  std::printf("fmnist-cnn-tiny W3g16: block loss rtn %.5g teq %.5g\n", rtn, trained);
}

}  // namespace
}  // namespace qtune
