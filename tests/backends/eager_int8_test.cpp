// The eager int8 reference against values worked by hand and against a plain
// loop; the shared activation quantizer against hand-worked golden codes.
#include "backends/eager/eager_int8.h"

#include <gtest/gtest.h>

#include "backends/backend_list.h"
#include "support/expect_error.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 11;

QuantSpec int8_spec(Granularity g = Granularity::kPerChannel) {
  QuantSpec s;
  s.bits = 8;
  s.scheme = Scheme::kSym;
  s.granularity = g;
  return s;
}

Int8Layer layer_from(const at::Tensor& w, std::optional<at::Tensor> bias, ActivationQuant a,
                     Granularity g = Granularity::kPerChannel) {
  return Int8Layer{QuantizedWeight::from_float(w, int8_spec(g)), a, std::move(bias)};
}

TEST(ActivationQuant, StaticCodesWorkedByHand) {
  // scale 0.5, zp 10: x/0.5 = {-40, -1, 0.5, 1.5, 2.5, 300} -> round half even
  // {-40, -1, 0, 2, 2, 300} + 10 -> clamp [0, 255].
  const at::Tensor x = at::tensor({-20.0f, -0.5f, 0.25f, 0.75f, 1.25f, 150.0f});
  const at::Tensor u8 = quantize_activation(x, {0.5f, 10}, false);
  ASSERT_EQ(u8.scalar_type(), at::kByte);
  EXPECT_TRUE(at::equal(u8.to(at::kInt), at::tensor({0, 9, 10, 12, 12, 255}, at::kInt)));
  const at::Tensor s8 = quantize_activation(x, {0.5f, 0}, true);
  ASSERT_EQ(s8.scalar_type(), at::kChar);
  EXPECT_TRUE(at::equal(s8.to(at::kInt), at::tensor({-40, -1, 0, 2, 2, 127}, at::kInt)));
}

TEST(ActivationQuant, DynamicParamsWorkedByHand) {
  ActivationQuant dyn;
  dyn.dynamic = true;
  // Range [-1, 3.25] -> scale 4.25/255 = 1/60; zp from min: 0 + 60 = 60.
  const at::Tensor x = at::tensor({-1.0f, 0.5f, 3.25f});
  ActivationQParams p = choose_activation_qparams(x, dyn);
  EXPECT_FLOAT_EQ(p.scale, 4.25f / 255.0f);
  EXPECT_EQ(p.zero_point, 60);
  // All positive: the range is widened to hold 0, zp 0.
  p = choose_activation_qparams(at::tensor({2.0f, 5.1f}), dyn);
  EXPECT_FLOAT_EQ(p.scale, 5.1f / 255.0f);
  EXPECT_EQ(p.zero_point, 0);
  // s8: absmax / 127.
  dyn.is_signed = true;
  p = choose_activation_qparams(at::tensor({-6.35f, 1.0f}), dyn);
  EXPECT_FLOAT_EQ(p.scale, 6.35f / 127.0f);
  EXPECT_EQ(p.zero_point, 0);
  // All zero: scale 0.1, codes stay zero.
  p = choose_activation_qparams(at::zeros({4}), dyn);
  EXPECT_FLOAT_EQ(p.scale, 0.1f);
}

TEST(EagerInt8, LinearWorkedByHand) {
  // w = [[1, -2], [0.5, 0.25]] per channel: scales 2/127 and 0.5/127, codes
  // [[64 (63.5 -> 64 ties even), -127], [127, 64 (63.5 -> 64)]].
  const at::Tensor w = at::tensor({1.0f, -2.0f, 0.5f, 0.25f}).view({2, 2});
  ActivationQuant a;
  a.scale = 0.5f;
  a.zero_point = 3;
  const LayerKernelPtr k =
      make_eager_int8_kernel(LayerKind::kLinear, layer_from(w, at::tensor({1.0f, -1.0f}), a), {});
  // x = [1, -1] -> codes [2+3, -2+3] = [5, 1]; minus zp: [2, -2].
  const at::Tensor y = k->forward(at::tensor({1.0f, -1.0f}).view({1, 2}));
  // row 0: (2*64 + -2*-127) = 382 * 0.5 * 2/127 + 1
  // row 1: (2*127 + -2*64) = 126 * 0.5 * 0.5/127 - 1
  const double y0 = 382 * 0.5 * (2.0f / 127) + 1, y1 = 126 * 0.5 * (0.5f / 127) - 1;
  ASSERT_EQ(y.sizes(), at::IntArrayRef({1, 2}));
  EXPECT_FLOAT_EQ(y[0][0].item<float>(), static_cast<float>(y0));
  EXPECT_FLOAT_EQ(y[0][1].item<float>(), static_cast<float>(y1));
  EXPECT_EQ(k->backend(), "eager");
}

// A plain loop over the definition in int8.h, for a grouped, strided, padded conv.
at::Tensor loop_conv(const at::Tensor& xq, int32_t zp, const at::Tensor& wq, double xs,
                     const at::Tensor& ws, const at::Tensor& bias, const ConvGeometry& g) {
  const int64_t n = xq.size(0), c = xq.size(1), h = xq.size(2), wd = xq.size(3);
  const int64_t o = wq.size(0), cg = wq.size(1), kh = wq.size(2), kw = wq.size(3);
  const int64_t oh = (h + 2 * g.padding[0] - g.dilation[0] * (kh - 1) - 1) / g.stride[0] + 1;
  const int64_t ow = (wd + 2 * g.padding[1] - g.dilation[1] * (kw - 1) - 1) / g.stride[1] + 1;
  const int64_t og = o / g.groups;
  at::Tensor y = at::zeros({n, o, oh, ow}, at::kDouble);
  auto X = xq.accessor<uint8_t, 4>();
  auto W = wq.accessor<int8_t, 4>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          int64_t acc = 0;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t r = i * g.stride[0] - g.padding[0] + p * g.dilation[0];
                const int64_t s = j * g.stride[1] - g.padding[1] + q * g.dilation[1];
                if (r < 0 || r >= h || s < 0 || s >= wd) continue;  // padding is real 0.0
                const int64_t ch = (oc / og) * cg + ic;
                acc += (static_cast<int64_t>(X[b][ch][r][s]) - zp) * W[oc][ic][p][q];
              }
          y[b][oc][i][j] = acc * xs * ws[oc].item<double>() + bias[oc].item<double>();
        }
  (void)c;
  return y.to(at::kFloat);
}

TEST(EagerInt8, Conv2dEqualsPlainLoop) {
  at::manual_seed(kSeed);
  ConvGeometry g;
  g.stride = {2, 1};
  g.padding = {1, 2};
  g.dilation = {1, 2};
  g.groups = 2;
  const at::Tensor w = at::randn({6, 3, 3, 2}), b = at::randn({6}), x = at::randn({2, 6, 7, 8});
  ActivationQuant a;
  a.scale = 0.02f;
  a.zero_point = 128;
  const Int8Layer layer = layer_from(w, b, a);
  const LayerKernelPtr k = make_eager_int8_kernel(LayerKind::kConv2d, layer, g);
  const at::Tensor xq = quantize_activation(x, {a.scale, a.zero_point}, false);
  const at::Tensor expected =
      loop_conv(xq, a.zero_point, int8_weight_codes(layer.weight).view({6, 3, 3, 2}), a.scale,
                int8_weight_scales(layer.weight).to(at::kDouble), b.to(at::kDouble), g);
  const at::Tensor y = k->forward(x);
  ASSERT_EQ(y.sizes(), expected.sizes());
  // Both sum exact integers in fp64 and round once to fp32; only the order of
  // the three-factor scale product differs (a few fp64 ulps).
  EXPECT_TRUE(at::allclose(y, expected, 1e-6, 1e-6));
  EXPECT_GT(y.abs().sum().item<double>(), 0.0);
}

TEST(EagerInt8, CloseToFloatLayer) {
  // Property: int8 is a good approximation of fp32 on well-scaled data.
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({17, 65}), b = at::randn({17}), x = at::randn({7, 65});
  ActivationQuant dyn;
  dyn.dynamic = true;
  const at::Tensor y =
      make_eager_int8_kernel(LayerKind::kLinear, layer_from(w, b, dyn), {})->forward(x);
  const at::Tensor ref = at::linear(x, w, b);
  const double rel = (y - ref).norm().item<double>() / ref.norm().item<double>();
  EXPECT_LT(rel, 0.02);
  EXPECT_GT(rel, 0.0);  // it did quantize
}

TEST(EagerInt8, PerTensorWeightAndSavedTensors) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({5, 16}), x = at::randn({3, 16});
  ActivationQuant a;
  a.is_signed = true;
  a.scale = 0.03f;
  const Int8Layer layer = layer_from(w, std::nullopt, a, Granularity::kPerTensor);
  const auto k = std::dynamic_pointer_cast<const Int8Kernel>(
      make_eager_int8_kernel(LayerKind::kLinear, layer, {}));
  ASSERT_NE(k, nullptr);
  const at::Tensor xq = quantize_activation(x, {a.scale, 0}, true).to(at::kDouble);
  const at::Tensor wq = int8_weight_codes(layer.weight).to(at::kDouble);
  const at::Tensor expected =
      (at::matmul(xq, wq.t()) * (double(a.scale) * layer.weight.scale.item<float>()))
          .to(at::kFloat);
  EXPECT_TRUE(at::allclose(k->forward(x), expected, 1e-6, 1e-6));
  const auto t = k->tensors();
  EXPECT_EQ(t.count("qweight"), 1u);
  EXPECT_EQ(t.count("bias"), 0u);
  EXPECT_FLOAT_EQ(t.at("input_scale").item<float>(), 0.03f);
  // 1 byte per weight (80) + one fp32 scale.
  EXPECT_EQ(k->storage_bytes(), 80 + 4);
}

TEST(EagerInt8, RejectsBadLayers) {
  const at::Tensor w = at::randn({4, 8});
  ActivationQuant a;
  QuantSpec s4 = int8_spec();
  s4.bits = 4;
  testing::expect_error(
      [&] {
        make_eager_int8_kernel(LayerKind::kLinear,
                               Int8Layer{QuantizedWeight::from_float(w, s4), a, std::nullopt}, {});
      },
      "expected an 8-bit sym weight, got 4-bit sym");
  a.zero_point = 300;
  testing::expect_error(
      [&] { make_eager_int8_kernel(LayerKind::kLinear, layer_from(w, std::nullopt, a), {}); },
      "expected a zero point in [0, 255], got 300");
  a.zero_point = 0;
  a.scale = 0.0f;
  testing::expect_error(
      [&] { make_eager_int8_kernel(LayerKind::kLinear, layer_from(w, std::nullopt, a), {}); },
      "expected a positive finite input scale");
  a.scale = 1.0f;
  testing::expect_error(
      [&] { make_eager_int8_kernel(LayerKind::kConv2d, layer_from(w, std::nullopt, a), {}); },
      "expected a 4-D weight");
  const LayerKernelPtr k =
      make_eager_int8_kernel(LayerKind::kLinear, layer_from(w, std::nullopt, a), {});
  testing::expect_error(
      [&] {
        k->forward(at::randn({2, 9}));
      },
      "int8 Linear: expected input [..., 8], got [2, 9]");
}

TEST(Int8Registry, AutoFallsBackToEagerAndNamesResolve) {
  const at::Tensor w = at::randn({4, 8});
  const Int8Layer layer = layer_from(w, std::nullopt, ActivationQuant{});
  std::string reason;
  const Backend& b = choose_backend("eager", LayerKind::kLinear, layer, &reason);
  EXPECT_EQ(b.name, "eager");
  EXPECT_EQ(reason, "requested");
  EXPECT_EQ(backends().back().name, "eager");
  const Backend& a = choose_backend("auto", LayerKind::kLinear, layer, &reason);
  EXPECT_EQ(reason.rfind("auto", 0), 0u) << reason;
  EXPECT_FALSE(a.name.empty());
  testing::expect_error([] { backend_by_name("fpga"); }, "unknown backend 'fpga'");
}

}  // namespace
}  // namespace qtune
