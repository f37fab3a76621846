// The eager backend must compute exactly what ATen computes with the
// dequantized weight; the fp32 kernel exactly what at::linear / conv2d do.
#include <gtest/gtest.h>

#include "backends/backend_list.h"
#include "backends/eager/eager_kernels.h"
#include "common/error.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 3;

QuantSpec spec(int bits, Scheme scheme, int64_t group) {
  QuantSpec s;
  s.bits = bits;
  s.scheme = scheme;
  s.group_size = group;
  return s;
}

TEST(EagerKernel, LinearEqualsAtenWithDequantizedWeight) {
  at::manual_seed(kSeed);
  for (Scheme scheme : {Scheme::kSym, Scheme::kAsym}) {
    const at::Tensor w = at::randn({7, 33}), b = at::randn({7}), x = at::randn({2, 5, 33});
    const QuantizedWeight q = QuantizedWeight::from_float(w, spec(4, scheme, 8));
    const LayerKernelPtr k = make_eager_kernel(LayerKind::kLinear, q, b, {});
    const at::Tensor y = k->forward(x);
    const at::Tensor expected = at::linear(x, q.dequantize(), b);
    ASSERT_EQ(y.sizes(), at::IntArrayRef({2, 5, 7}));
    EXPECT_TRUE(at::equal(y, expected));
    EXPECT_GT(y.abs().sum().item<double>(), 0.0);  // not vacuously all zero
    // Quantization changed the weights, and the kernel used the quantized ones.
    EXPECT_FALSE(at::equal(y, at::linear(x, w, b)));
    EXPECT_EQ(k->backend(), "eager");
    ASSERT_NE(k->quantized_weight(), nullptr);
    EXPECT_TRUE(at::equal(k->quantized_weight()->packed, q.packed));
  }
}

TEST(EagerKernel, Conv2dEqualsAtenWithDequantizedWeight) {
  at::manual_seed(kSeed);
  ConvGeometry g;
  g.stride = {2, 1};
  g.padding = {1, 0};
  g.dilation = {1, 2};
  g.groups = 2;
  const at::Tensor w = at::randn({6, 2, 3, 3}), x = at::randn({2, 4, 9, 9});
  const QuantizedWeight q = QuantizedWeight::from_float(w, spec(3, Scheme::kAsym, 5));
  const LayerKernelPtr k = make_eager_kernel(LayerKind::kConv2d, q, std::nullopt, g);
  const at::Tensor expected =
      at::conv2d(x, q.dequantize(), {}, g.stride, g.padding, g.dilation, g.groups);
  EXPECT_TRUE(at::equal(k->forward(x), expected));
  EXPECT_GT(expected.abs().sum().item<double>(), 0.0);
}

TEST(EagerKernel, TensorsAndStorage) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({4, 64}), b = at::randn({4});
  const QuantizedWeight sym = QuantizedWeight::from_float(w, spec(4, Scheme::kSym, 32));
  const auto ts = make_eager_kernel(LayerKind::kLinear, sym, b, {})->tensors();
  EXPECT_EQ(ts.size(), 3u);  // no qzeros for sym
  EXPECT_TRUE(at::equal(ts.at("qweight"), sym.packed));
  EXPECT_TRUE(at::equal(ts.at("scales"), sym.scale));
  EXPECT_TRUE(at::equal(ts.at("bias"), b));
  // packed 4 x 8 words + scale 4 x 2 floats + bias 4 floats
  EXPECT_EQ(make_eager_kernel(LayerKind::kLinear, sym, b, {})->storage_bytes(),
            4 * 8 * 4 + 4 * 2 * 4 + 4 * 4);
  const QuantizedWeight asym = QuantizedWeight::from_float(w, spec(4, Scheme::kAsym, 32));
  const auto ta = make_eager_kernel(LayerKind::kLinear, asym, std::nullopt, {})->tensors();
  EXPECT_EQ(ta.size(), 3u);
  EXPECT_TRUE(at::equal(ta.at("qzeros"), asym.zero));
}

TEST(EagerKernel, ShapeMismatchIsAnError) {
  const QuantizedWeight q = QuantizedWeight::from_float(at::randn({4, 8}), QuantSpec{});
  EXPECT_THROW(make_eager_kernel(LayerKind::kConv2d, q, std::nullopt, {}), Error);
  EXPECT_THROW(make_eager_kernel(LayerKind::kLinear, q, at::zeros({5}), {}), Error);
}

TEST(Fp32Kernel, EqualsAten) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({5, 12}), b = at::randn({5}), x = at::randn({3, 12});
  const LayerKernelPtr k = make_fp32_kernel(LayerKind::kLinear, w, b);
  EXPECT_TRUE(at::equal(k->forward(x), at::linear(x, w, b)));
  EXPECT_EQ(k->backend(), "fp32");
  EXPECT_EQ(k->quantized_weight(), nullptr);
  EXPECT_EQ(k->storage_bytes(), (5 * 12 + 5) * 4);
  const at::Tensor cw = at::randn({4, 3, 3, 3}), cx = at::randn({1, 3, 8, 8});
  EXPECT_TRUE(at::equal(make_fp32_kernel(LayerKind::kConv2d, cw, std::nullopt)->forward(cx),
                        at::conv2d(cx, cw)));
}

TEST(BackendRegistry, EagerIsLastAndChosenAutomatically) {
  ASSERT_FALSE(backends().empty());
  EXPECT_EQ(backends().back().name, "eager");
  std::string reason;
  // With only eager registered auto picks it; with more, auto picks the first
  // that supports the layer, which is never after eager.
  const Backend& b = choose_backend("auto", LayerKind::kLinear, QuantSpec{}, &reason);
  EXPECT_FALSE(reason.empty());
  std::string why;
  EXPECT_TRUE(b.supports(LayerKind::kLinear, QuantSpec{}, &why));
  EXPECT_EQ(&choose_backend("eager", LayerKind::kConv2d, QuantSpec{}, &reason),
            &backend_by_name("eager"));
  EXPECT_EQ(reason, "requested");
}

TEST(BackendRegistry, UnknownNameListsKnownOnes) {
  try {
    backend_by_name("cuda");
    FAIL() << "unknown backend accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'cuda'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("eager"), std::string::npos) << e.what();
  }
  std::string reason;
  EXPECT_THROW(choose_backend("cuda", LayerKind::kLinear, QuantSpec{}, &reason), Error);
}

}  // namespace
}  // namespace qtune
