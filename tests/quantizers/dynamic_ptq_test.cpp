// Dynamic int8 PTQ: no calibration, each batch quantized with its own range.
#include <gtest/gtest.h>

#include "backends/int8.h"
#include "quantizers/quantizer.h"
#include "support/expect_error.h"
#include "tiny_model.h"

namespace qtune {
namespace {

using qtune::testing::expect_error;
using qtune::testing::TinyModel;

QuantConfig dynamic_config(Json params = Json::object()) {
  QuantConfig c;
  c.algorithm = "dynamic";
  c.params = std::move(params);
  c.backend = "eager";
  return c;
}

const Int8Layer& int8_of(const LayerSlot& s) {
  const auto* k = dynamic_cast<const Int8Kernel*>(s.kernel().get());
  EXPECT_NE(k, nullptr) << s.name() << " runs " << s.kernel()->backend();
  return k->int8_layer();
}

TEST(DynamicPtq, NeedsNoCalibrationAndMarksInputsDynamic) {
  EXPECT_FALSE(quantizer_by_name("dynamic").needs_calibration());
  const Json p = quantizer_by_name("dynamic").schema().validate(Json::object(), "t");
  EXPECT_EQ(p["w_granularity"], "per_channel");
  EXPECT_FALSE(p.contains("act_algo")) << "nothing is observed";
  TinyModel model(1);
  const std::vector<LayerReport> r = quantize(model, dynamic_config(), {});
  ASSERT_EQ(r.size(), 3u);
  for (const LayerReport& lr : r) {
    EXPECT_TRUE(lr.quantized) << lr.name;
    EXPECT_EQ(lr.backend, "eager");
    const Int8Layer& l = int8_of(model.layer(lr.name));
    EXPECT_TRUE(l.input.dynamic);
    EXPECT_FALSE(l.input.is_signed);
  }
}

TEST(DynamicPtq, FcMatchesPerBatchReference) {
  // fc1 alone, by hand: x quantized with the batch's own params, weights s8 per channel.
  TinyModel model(2);
  const at::Tensor w = model.layer("fc1").weight();
  const at::Tensor b = *model.layer("fc1").bias();
  quantize(model, dynamic_config({{"act_sym", true}}), {});
  const Int8Layer& l = int8_of(model.layer("fc1"));
  EXPECT_TRUE(l.input.is_signed);
  at::manual_seed(11);
  for (int64_t rows : {1, 3, 17}) {
    const at::Tensor x = at::randn({rows, 32}) * 3;
    const ActivationQParams p = choose_activation_qparams(x, l.input);
    // s8: scale = max|x| / 127 (int8.h), by hand:
    EXPECT_FLOAT_EQ(p.scale, x.abs().max().item<float>() / 127.0f);
    const at::Tensor xq = quantize_activation(x, p, true).to(at::kFloat) * p.scale;
    const at::Tensor wq = l.weight.dequantize();
    // s8 weights per channel: |w - wq| <= scale/2 per row.
    EXPECT_TRUE(((w - wq).abs() <= l.weight.scale.view({-1, 1}) * 0.5001).all().item<bool>());
    const at::Tensor want = at::linear(xq, wq, b);
    const at::Tensor got = model.layer("fc1")(x);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-4 * want.abs().max().item<double>())
        << rows << " rows";
  }
}

TEST(DynamicPtq, CloseToFp32AndRespectsFp32Layers) {
  TinyModel model(3);
  const at::Tensor x = TinyModel::input(9);
  const at::Tensor fp32 = model.forward(x);
  QuantConfig c = dynamic_config({{"w_granularity", "per_tensor"}});
  c.fp32_layers = {"conv"};
  const std::vector<LayerReport> r = quantize(model, c, {});
  EXPECT_FALSE(r[0].quantized);
  EXPECT_EQ(int8_of(model.layer("fc1")).weight.scale.numel(), 1);
  const at::Tensor got = model.forward(x);
  EXPECT_LT((got - fp32).abs().max().item<double>(), 0.05 * fp32.abs().max().item<double>());
}

TEST(DynamicPtq, RejectsStaticOnlyParams) {
  expect_error(
      [] {
        QuantConfig::from_json({{"algorithm", "dynamic"}, {"params", {{"act_algo", "kl"}}}}, "c");
      },
      "c.params.act_algo: unknown parameter");
}

}  // namespace
}  // namespace qtune
