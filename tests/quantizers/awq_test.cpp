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

/// Mean over positions of KL(p_ref || p_q) of the next-token distributions.
double mean_kl(const Model& ref, const Model& q, const at::Tensor& tokens) {
  at::NoGradGuard no_grad;
  const at::Tensor lp = at::log_softmax(ref.forward(tokens), -1);
  const at::Tensor lq = at::log_softmax(q.forward(tokens), -1);
  return (lp.exp() * (lp - lq)).sum(-1).mean().item<double>();
}

// The case on the micro LM: with its defaults AWQ must beat plain
// rounding at W3 sym, g128 and g32, on held-out text. The micro LM (60
// training steps) barely reacts to W3 in perplexity (fp32 146.74, RTN 146.77
// and 147.02, within the noise), so the held-out mean KL to fp32 carries the
// comparison (measured: g128 RTN 5.2e-4, AWQ 3.5e-4; g32 7.1e-4, 2.3e-4).
TEST(Awq, MicroLmBeatsRtnAtW3Sym) {
  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  const char* spec = "builtin:tiny-lm-micro";
  const ModelPtr fp = load_model(spec, mo);
  const TaskData data = load_task_data(spec, 16, 8, 3, QTUNE_TEST_CACHE_DIR);
  CalibrationData calib;
  calib.batches = data.calibration.input_batches(4);
  const at::Tensor x = data.evaluation.inputs;
  ASSERT_GT(x.numel(), 0);
  const double fp_ppl = data.evaluate(*fp).value;
  for (int64_t group : {int64_t{128}, int64_t{32}}) {
    const Json p{{"bits", 3}, {"group_size", group}, {"scheme", "sym"}};
    const ModelPtr rtn = quantized(*fp, config("rtn", p), calib);
    const ModelPtr awq = quantized(*fp, config("awq", p), calib);
    const double rtn_kl = mean_kl(*fp, *rtn, x), awq_kl = mean_kl(*fp, *awq, x);
    const double rtn_ppl = data.evaluate(*rtn).value, awq_ppl = data.evaluate(*awq).value;
    std::printf(
        "tiny-lm-micro W3 g%lld: held-out KL rtn %.5g awq %.5g; perplexity fp32 %.5g "
        "rtn %.5g awq %.5g\n",
        static_cast<long long>(group), rtn_kl, awq_kl, fp_ppl, rtn_ppl, awq_ppl);
    EXPECT_GT(rtn_kl, 0);
    EXPECT_LT(awq_kl, rtn_kl) << "g" << group;
  }
}

}  // namespace
}  // namespace qtune
