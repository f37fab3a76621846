// Static int8 PTQ on the tiny model: observed parameters against a hand
// replay of the calibration, outputs against a fake-quantized reference,
// fp32 layers and overrides, parameter validation.
#include <gtest/gtest.h>

#include "backends/int8.h"
#include "quant/observer.h"
#include "quantizers/blockwise.h"
#include "quantizers/quantizer.h"
#include "support/expect_error.h"
#include "tiny_model.h"

namespace qtune {
namespace {

using qtune::testing::expect_error;
using qtune::testing::TinyModel;

CalibrationData calibration(int batches = 3) {
  CalibrationData c;
  for (int i = 0; i < batches; ++i) c.batches.push_back(TinyModel::input(100 + i));
  return c;
}

QuantConfig static_config(Json params = Json::object()) {
  QuantConfig c;
  c.algorithm = "static";
  c.params = std::move(params);
  c.backend = "eager";
  return c;
}

const Int8Layer& int8_of(const LayerSlot& s) {
  const auto* k = dynamic_cast<const Int8Kernel*>(s.kernel().get());
  EXPECT_NE(k, nullptr) << s.name() << " runs " << s.kernel()->backend();
  return k->int8_layer();
}

/// The model's function with fake-quantized inputs and weights, layer by layer.
at::Tensor fake_quant_forward(TinyModel& m, const at::Tensor& x) {
  TinyModel copy = m;
  for (LayerSlot* s : copy.layers()) {
    if (!s->quantized()) continue;
    const Int8Layer& l = int8_of(*s);
    ActParams p{l.input.scale, l.input.zero_point, l.input.is_signed};
    at::Tensor w = l.weight.dequantize();
    s->set_kernel(make_fp32_kernel(s->kind(), w, l.bias, s->geometry()));
    // Quantize what reaches the kernel, as the int8 kernel does.
    LayerKernelPtr fp = s->kernel();
    struct Fq : LayerKernel {
      LayerKernelPtr inner;
      ActParams p;
      at::Tensor forward(const at::Tensor& x) const override {
        return inner->forward(fake_quantize_activation(x, p));
      }
      std::string backend() const override { return "fq"; }
      std::map<std::string, at::Tensor> tensors() const override { return {}; }
      int64_t storage_bytes() const override { return 0; }
    };
    auto k = std::make_shared<Fq>();
    k->inner = fp;
    k->p = p;
    s->set_kernel(k);
  }
  return copy.forward(x);
}

TEST(StaticPtq, SchemaHasIncNamesAndDefaults) {
  const Json p = quantizer_by_name("static").schema().validate(Json::object(), "test");
  EXPECT_EQ(p["dtype"], "int8");
  EXPECT_EQ(p["w_granularity"], "per_channel");
  EXPECT_EQ(p["w_sym"], true);
  EXPECT_EQ(p["act_sym"], false);
  EXPECT_EQ(p["act_algo"], "minmax");
  EXPECT_TRUE(quantizer_by_name("static").needs_calibration());
  expect_error(
      [] {
        QuantConfig::from_json({{"algorithm", "static"}, {"params", {{"w_sym", false}}}}, "cfg");
      },
      "cfg.params.w_sym: expected one of true, got false");
  expect_error(
      [] {
        QuantConfig::from_json({{"algorithm", "static"}, {"params", {{"act_algo", "entropy"}}}},
                               "cfg");
      },
      "cfg.params.act_algo: expected one of minmax, moving_average, percentile, kl, mse");
}

TEST(StaticPtq, InputParamsAreTheObservedMinMax) {
  TinyModel model(1);
  const CalibrationData calib = calibration();
  // Replay the calibration by hand on an fp32 copy.
  TinyModel ref = model;
  std::vector<std::string> names{"conv", "fc1", "head.fc2"};
  auto captured = capture_layer_inputs(ref, 0, calib.batches, names);

  const std::vector<LayerReport> reports = quantize(model, static_config(), calib);
  ASSERT_EQ(reports.size(), 3u);
  for (const LayerReport& r : reports) {
    EXPECT_TRUE(r.quantized) << r.name;
    EXPECT_EQ(r.backend, "eager") << r.name;
    EXPECT_EQ(r.backend_reason, "requested");
    const at::Tensor all = at::cat(
        [&] {
          std::vector<at::Tensor> flat;
          for (const at::Tensor& t : captured[r.name]) flat.push_back(t.flatten());
          return flat;
        }(),
        0);
    const ActParams want =
        act_params_from_range(all.min().item<double>(), all.max().item<double>(), false);
    const Int8Layer& l = int8_of(model.layer(r.name));
    EXPECT_FALSE(l.input.dynamic);
    EXPECT_FALSE(l.input.is_signed);
    EXPECT_EQ(l.input.scale, want.scale) << r.name;
    EXPECT_EQ(l.input.zero_point, want.zero_point) << r.name;
    EXPECT_EQ(l.weight.spec.bits, 8);
    EXPECT_EQ(l.weight.scale.numel(), model.layer(r.name).weight().size(0)) << "per channel";
  }
}

TEST(StaticPtq, OutputMatchesFakeQuantReferenceAndStaysCloseToFp32) {
  TinyModel model(2);
  const at::Tensor x = TinyModel::input(7);
  const at::Tensor fp32 = model.forward(x);
  quantize(model, static_config(), calibration());
  const at::Tensor got = model.forward(x);
  const at::Tensor want = fake_quant_forward(model, x);
  // Same codes, different summation (fp64 integers vs fp32 floats): 1e-4 of the range.
  const double scale = want.abs().max().item<double>();
  ASSERT_GT(scale, 0) << "all-zero output";
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-4 * scale);
  // int8 on a 3-layer net: within a few percent of fp32.
  EXPECT_LT((got - fp32).abs().max().item<double>(), 0.05 * fp32.abs().max().item<double>());
}

TEST(StaticPtq, Fp32LayersAndOverridesStayFp32) {
  TinyModel model(3);
  QuantConfig c = static_config();
  c.fp32_layers = {"head\\..*"};
  c.overrides.push_back({"", "Conv2d", Json{{"dtype", "fp32"}}});
  c.overrides.push_back({"fc1", "", Json{{"w_granularity", "per_tensor"}, {"act_sym", true}}});
  const std::vector<LayerReport> r = quantize(model, c, calibration());
  EXPECT_FALSE(r[0].quantized);
  EXPECT_EQ(r[0].backend, "fp32");
  EXPECT_EQ(model.layer("conv").kernel()->backend(), "fp32");
  EXPECT_TRUE(r[1].quantized);
  EXPECT_FALSE(r[2].quantized);
  EXPECT_EQ(model.layer("head.fc2").kernel()->backend(), "fp32");
  const Int8Layer& fc1 = int8_of(model.layer("fc1"));
  EXPECT_EQ(fc1.weight.scale.numel(), 1) << "per tensor";
  EXPECT_TRUE(fc1.input.is_signed);
  EXPECT_EQ(fc1.input.zero_point, 0);
  EXPECT_EQ(r[1].params["act_sym"], true);
}

TEST(StaticPtq, EveryObserverRunsAndStaysClose) {
  for (const char* algo : {"minmax", "moving_average", "percentile", "kl", "mse"}) {
    TinyModel model(4);
    const at::Tensor x = TinyModel::input(8);
    const at::Tensor fp32 = model.forward(x);
    quantize(model, static_config({{"act_algo", algo}}), calibration());
    const at::Tensor got = model.forward(x);
    EXPECT_TRUE(at::isfinite(got).all().item<bool>()) << algo;
    // Clipping observers clip unseen inputs too: a looser bound than minmax.
    EXPECT_LT((got - fp32).abs().max().item<double>(), 0.25 * fp32.abs().max().item<double>())
        << algo;
  }
}

TEST(StaticPtq, RequantizingStartsFromFp32) {
  // A second quantization must observe fp32 inputs, not the first one's int8 outputs.
  TinyModel a(5), b(5);
  quantize(a, static_config({{"act_algo", "kl"}}), calibration());
  quantize(a, static_config(), calibration());
  quantize(b, static_config(), calibration());
  for (const char* n : {"conv", "fc1", "head.fc2"}) {
    EXPECT_EQ(int8_of(a.layer(n)).input.scale, int8_of(b.layer(n)).input.scale) << n;
    EXPECT_EQ(int8_of(a.layer(n)).input.zero_point, int8_of(b.layer(n)).input.zero_point) << n;
  }
}

TEST(StaticPtq, NeedsCalibration) {
  TinyModel model(1);
  expect_error([&] { quantize(model, static_config(), {}); },
               "algorithm 'static' needs calibration data");
}

}  // namespace
}  // namespace qtune
