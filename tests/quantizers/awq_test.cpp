// AWQ: folding keeps the fp32 function, and the output error is below RTN's
// when a few input channels carry outliers (synthetic MLP chain, fmnist-cnn).
#include <gtest/gtest.h>

#include "backends/layer_kernel.h"
#include "models/builtin.h"
#include "outlier_mlp.h"
#include "quantizers/quantizer.h"
#include "support/expect_error.h"

namespace qtune {
namespace {

using testing::OutlierMlp;

using testing::calibration_of;
using testing::output_mse;

QuantConfig config(const std::string& algorithm, Json params) {
  return testing::quant_config(algorithm, std::move(params));
}
ModelPtr quantized(const Model& model, const QuantConfig& c, const CalibrationData& calib) {
  return testing::quantized_copy(model, c, calib);
}

TEST(Awq, FoldedScalesLeaveTheFp32FunctionUnchanged) {
  const OutlierMlp fp(3, /*blocks=*/2);
  const CalibrationData calib = calibration_of(OutlierMlp::inputs(7, 128), 32);
  ModelPtr m = quantized(fp, config("awq", {{"bits", 3}, {"group_size", 16}}), calib);
  // Undo only the quantization: fp32 kernels on the folded weights (and the inserted multipliers).
  double changed = 0;
  auto fp_layers = static_cast<const Model&>(fp).layers();
  auto layers = m->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerSlot* s = layers[i];
    EXPECT_TRUE(s->quantized()) << s->name();
    changed = std::max(changed, (s->weight() - fp_layers[i]->weight()).abs().max().item<double>());
    s->set_kernel(make_fp32_kernel(s->kind(), s->weight(), s->bias(), s->geometry()));
  }
  // Scales were applied at all (else this test would pass vacuously).
  EXPECT_GT(changed, 1e-2);
  EXPECT_TRUE(m->layer("b0.up").input_multiplier().defined());
  const at::Tensor x = OutlierMlp::inputs(8, 64);
  at::NoGradGuard no_grad;
  const at::Tensor want = fp.forward(x);
  // fp32 rounding of the rescaled products only: relative 1e-5 of outputs of size ~10.
  EXPECT_TRUE(at::allclose(m->forward(x), want, 1e-5, 1e-4))
      << "max diff " << (m->forward(x) - want).abs().max().item<double>();
}

TEST(Awq, OutputErrorBelowRtnWithOutlierChannels) {
  const OutlierMlp fp(5, /*blocks=*/2);
  const CalibrationData calib = calibration_of(OutlierMlp::inputs(7, 128), 32);
  const at::Tensor held_out = OutlierMlp::inputs(8, 256);
  for (const Json& p :
       {Json{{"bits", 3}, {"group_size", 32}}, Json{{"bits", 4}, {"group_size", 16}},
        Json{{"bits", 3}, {"group_size", -1}, {"scheme", "asym"}}}) {
    const double rtn = output_mse(*quantized(fp, config("rtn", p), calib), fp, held_out);
    const double awq = output_mse(*quantized(fp, config("awq", p), calib), fp, held_out);
    EXPECT_LT(awq, rtn) << p.dump();
    std::printf("outlier MLP %s: output MSE rtn %.5g awq %.5g\n", p.dump().c_str(), rtn, awq);
  }
}

TEST(Awq, WithoutScaleAndClipSearchItIsRtn) {
  const OutlierMlp fp(5, 2);
  const CalibrationData calib = calibration_of(OutlierMlp::inputs(7, 64), 32);
  const Json p{{"bits", 3}, {"group_size", 16}};
  Json off = p;
  off["use_auto_scale"] = false;
  off["use_auto_clip"] = false;
  const at::Tensor x = OutlierMlp::inputs(8, 32);
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(quantized(fp, config("awq", off), calib)->forward(x),
                        quantized(fp, config("rtn", p), calib)->forward(x)));
}

TEST(Awq, LayersKeptFp32AreNotScaledOrQuantized) {
  const OutlierMlp fp(5, 1);
  const CalibrationData calib = calibration_of(OutlierMlp::inputs(7, 64), 32);
  QuantConfig c = config("awq", {{"bits", 4}});
  c.fp32_layers = {"b0\\.down"};
  ModelPtr m = fp.clone();
  const std::vector<LayerReport> r = quantize(*m, c, calib);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].quantized);
  EXPECT_FALSE(r[1].quantized);
  // up's own group (inserted multiplier) is still scaled; down's group is not.
  EXPECT_TRUE(
      at::equal(m->layer("b0.down").weight(), static_cast<const Model&>(fp).layers()[1]->weight()));
}

TEST(Awq, NeedsCalibrationAndValidatesParams) {
  OutlierMlp m(1, 1);
  testing::expect_error([&] { quantize(m, config("awq", Json::object())); },
                        "needs calibration data");
  testing::expect_error(
      [&] {
        QuantConfig::from_json(Json{{"algorithm", "awq"}, {"params", {{"folding", 3}}}}, "cfg");
      },
      "folding");
}

TEST(Awq, FmnistCnnOutputErrorBelowRtn) {
  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  const ModelPtr fp = load_model("builtin:fmnist-cnn-tiny", mo);
  const TaskData data = load_task_data("builtin:fmnist-cnn-tiny", 128, 256, 3);
  CalibrationData calib;
  calib.batches = data.calibration.input_batches(32);
  const at::Tensor x = data.evaluation.inputs;
  for (const Json& p :
       {Json{{"bits", 3}, {"group_size", 16}}, Json{{"bits", 4}, {"group_size", 32}}}) {
    const double rtn = output_mse(*quantized(*fp, config("rtn", p), calib), *fp, x);
    const double awq = output_mse(*quantized(*fp, config("awq", p), calib), *fp, x);
    EXPECT_LT(awq, rtn) << p.dump();
    std::printf("fmnist-cnn-tiny %s: logit MSE rtn %.5g awq %.5g\n", p.dump().c_str(), rtn, awq);
  }
}

}  // namespace
}  // namespace qtune
