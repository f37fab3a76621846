// Every int8 backend against the eager reference, on channel counts that
// straddle vector widths (1, 3, 15, 16, 17, 63, 64, 65), batch 1 and 7,
// static and dynamic, u8 and s8 inputs, Linear and Conv2d.
#include <gtest/gtest.h>

#include <thread>

#include "backends/backend_list.h"
#include "backends/eager/eager_int8.h"
#include "backends/native/native_int8_kernel.h"
#include "backends/onednn/onednn_int8.h"
#include "backends/torch/torch_int8.h"
#include "support/expect_error.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 5;

std::vector<std::string> fast_backends() {
  std::vector<std::string> names;
  for (const Backend& b : backends())
    if (b.runs_int8() && b.name != "eager") names.push_back(b.name);
  return names;
}

Int8Layer make_layer(const at::Tensor& w, bool with_bias, ActivationQuant a, bool per_tensor) {
  QuantSpec s;
  s.bits = 8;
  s.scheme = Scheme::kSym;
  s.granularity = per_tensor ? Granularity::kPerTensor : Granularity::kPerChannel;
  std::optional<at::Tensor> bias;
  if (with_bias) bias = at::randn({w.size(0)});
  return Int8Layer{QuantizedWeight::from_float(w, s), a, bias};
}

// The tolerance. The integer sums are exact in every backend (int32 or fp64),
// and all quantize the input with the same function, so only the fp32
// arithmetic around the sum differs: converting the sum to fp32, adding a bias
// that may have the zero-point term folded in, and two scale products, each
// rounding once (2^-24 relative) to a value bounded by
//   B[o] = x_scale * w_scale[o] * (qmax_abs * sum_k |w[o,k]|) + |bias[o]|,
// which bounds every intermediate (|x code| <= 255, |code - zp| <= 255).
// 8 roundings of B is a generous bound; a single flipped input code on a
// weight of w shows as x_scale * w_scale * |w|, above this for |w| >~ 2.
at::Tensor tolerance(const Int8Layer& l, float x_scale, int64_t out_dim_ndims) {
  const at::Tensor wq = int8_weight_codes(l.weight).to(at::kDouble).abs().sum(1);
  at::Tensor b = int8_weight_scales(l.weight).to(at::kDouble) * double(x_scale) * 255.0 * wq;
  if (l.bias) b = b + l.bias->to(at::kDouble).abs();
  at::Tensor t = 8.0 * std::ldexp(1.0, -24) * b;
  if (out_dim_ndims == 4) t = t.view({1, -1, 1, 1});
  return t.to(at::kFloat);
}

void expect_matches_eager(const std::string& backend, LayerKind kind, const Int8Layer& layer,
                          const ConvGeometry& g, const at::Tensor& x, const std::string& what) {
  const LayerKernelPtr ref = make_eager_int8_kernel(kind, layer, g);
  const LayerKernelPtr k = backend_by_name(backend).make_kernel(kind, layer, g);
  EXPECT_EQ(k->backend(), backend);
  const at::Tensor expected = ref->forward(x);
  for (int rep = 0; rep < 2; ++rep) {  // the second call reuses the cached primitive
    const at::Tensor y = k->forward(x);
    ASSERT_EQ(y.sizes(), expected.sizes()) << what;
    const float xs = choose_activation_qparams(x, layer.input).scale;
    const at::Tensor tol = tolerance(layer, xs, y.dim() == 4 ? 4 : 2);
    const at::Tensor err = (y - expected).abs();
    const bool ok = (err <= tol).all().item<bool>();
    EXPECT_TRUE(ok) << backend << " " << what << ": max error " << err.max().item<float>()
                    << " tolerance " << tol.min().item<float>() << ".." << tol.max().item<float>();
    if (!ok) return;
    // With the ReLU fused (onednn) or applied after: relu is 1-Lipschitz, so
    // the same tolerance holds.
    const at::Tensor err_relu = (k->forward_relu(x) - at::relu(expected)).abs();
    EXPECT_TRUE((err_relu <= tol).all().item<bool>())
        << backend << " " << what << " with ReLU: max error " << err_relu.max().item<float>();
  }
  EXPECT_GT(expected.abs().sum().item<double>(), 0.0) << what;  // not vacuous
}

std::vector<ActivationQuant> activation_modes() {
  std::vector<ActivationQuant> modes;
  for (bool dynamic : {false, true})
    for (bool is_signed : {false, true}) {
      ActivationQuant a;
      a.dynamic = dynamic;
      a.is_signed = is_signed;
      a.scale = 0.023f;
      a.zero_point = is_signed ? 0 : 117;
      modes.push_back(a);
    }
  return modes;
}

std::string mode_name(const ActivationQuant& a) {
  return std::string(a.dynamic ? "dynamic " : "static ") + (a.is_signed ? "s8" : "u8");
}

class Int8BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // A backend runs wherever its supports() says so, and is tested there; the
    // ones that need int8 dot products refuse CPUs without them and say which
    // instruction is missing (DNNL_MAX_CPU_ISA=AVX2 shows it).
    std::string reason;
    const Int8Layer probe = make_layer(at::randn({2, 2}), false, ActivationQuant{}, false);
    if (!backend_by_name(GetParam()).supports(LayerKind::kLinear, probe, &reason))
      GTEST_SKIP() << GetParam() << " does not run here: " << reason;
  }
};

TEST_P(Int8BackendTest, LinearMatchesEager) {
  const std::vector<int64_t> sizes{1, 3, 15, 16, 17, 63, 64, 65};
  at::manual_seed(kSeed);
  for (const ActivationQuant& a : activation_modes())
    for (int64_t in : sizes)
      for (int64_t out : {int64_t{1}, int64_t{16}, int64_t{17}, int64_t{63}, int64_t{65}})
        for (int64_t batch : {1, 7}) {
          const bool per_tensor = (in + out) % 5 == 0;
          const Int8Layer layer =
              make_layer(at::randn({out, in}), (in + out) % 3 != 0, a, per_tensor);
          // Shifted so u8 inputs use the whole range around their zero point.
          const at::Tensor x = at::randn({batch, in}) * 1.5 + 0.3;
          expect_matches_eager(GetParam(), LayerKind::kLinear, layer, {}, x,
                               "Linear " + std::to_string(in) + "->" + std::to_string(out) +
                                   " batch " + std::to_string(batch) + " " + mode_name(a));
          if (HasFailure()) return;
        }
}

TEST_P(Int8BackendTest, LinearKeepsLeadingDims) {
  at::manual_seed(kSeed);
  const Int8Layer layer = make_layer(at::randn({17, 33}), true, activation_modes()[2], false);
  expect_matches_eager(GetParam(), LayerKind::kLinear, layer, {}, at::randn({2, 3, 33}),
                       "Linear [2, 3, 33]");
}

TEST_P(Int8BackendTest, Conv2dMatchesEager) {
  struct Case {
    int64_t in, out, k, stride, pad, dilation, groups;
  };
  const std::vector<Case> cases{
      {1, 16, 3, 1, 1, 1, 1},  {3, 15, 3, 2, 1, 1, 1},  {16, 17, 3, 1, 1, 1, 1},
      {17, 64, 1, 1, 0, 1, 1}, {15, 65, 3, 2, 0, 1, 1}, {16, 16, 3, 1, 2, 2, 1},
      {4, 6, 3, 1, 1, 1, 2},   {63, 3, 2, 2, 1, 1, 1},
  };
  at::manual_seed(kSeed);
  for (const ActivationQuant& a : activation_modes())
    for (const Case& c : cases)
      for (int64_t batch : {1, 7}) {
        ConvGeometry g;
        g.stride = {c.stride, c.stride};
        g.padding = {c.pad, c.pad};
        g.dilation = {c.dilation, c.dilation};
        g.groups = c.groups;
        const Int8Layer layer =
            make_layer(at::randn({c.out, c.in / c.groups, c.k, c.k}), c.out % 2 == 1, a, c.in == 3);
        const at::Tensor x = at::randn({batch, c.in, 9, 8}) + 0.4;
        expect_matches_eager(GetParam(), LayerKind::kConv2d, layer, g, x,
                             "Conv2d " + std::to_string(c.in) + "->" + std::to_string(c.out) +
                                 " k" + std::to_string(c.k) + " s" + std::to_string(c.stride) +
                                 " p" + std::to_string(c.pad) + " d" + std::to_string(c.dilation) +
                                 " g" + std::to_string(c.groups) + " batch " +
                                 std::to_string(batch) + " " + mode_name(a));
        if (HasFailure()) return;
      }
}

TEST_P(Int8BackendTest, ConcurrentCallsAgree) {
  // Kernels are shared between threads (a model serves many); the plan cache
  // must not hand one thread another's half-built primitive.
  at::manual_seed(kSeed);
  const Int8Layer layer = make_layer(at::randn({32, 64}), true, activation_modes()[0], false);
  const LayerKernelPtr k = backend_by_name(GetParam()).make_kernel(LayerKind::kLinear, layer, {});
  std::vector<at::Tensor> xs, ys(4);
  for (int i = 0; i < 4; ++i) xs.push_back(at::randn({i + 1, 64}));
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&, i] { ys[i] = k->forward(xs[i]); });
  for (auto& t : threads) t.join();
  const LayerKernelPtr ref = make_eager_int8_kernel(LayerKind::kLinear, layer, {});
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(at::allclose(ys[i], ref->forward(xs[i]), 1e-4, 1e-4));
}

TEST_P(Int8BackendTest, ConcurrentRunsOfOnePlanGiveTheSequentialBits) {
  // Threads running the same layer on the same shape at once (a trial's
  // evaluation units, models/work_units.h) share its plan: each call's
  // scratch memory must be its own. A convolution, whose primitives use one.
  at::manual_seed(kSeed);
  ConvGeometry g;
  g.padding = {1, 1};
  const Int8Layer layer = make_layer(at::randn({32, 16, 3, 3}), true, activation_modes()[0], false);
  const LayerKernelPtr k = backend_by_name(GetParam()).make_kernel(LayerKind::kConv2d, layer, g);
  std::vector<at::Tensor> xs, want;
  for (int i = 0; i < 3; ++i) {
    xs.push_back(at::randn({8, 16, 28, 28}) + 0.3 * i);
    want.push_back(k->forward(xs.back()).contiguous());
  }
  std::vector<int> mismatches(3, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        mismatches[t] += !at::equal(k->forward(xs[t]).contiguous(), want[t]);
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 3; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t << " of 20 calls";
}

TEST_P(Int8BackendTest, RejectsWrongInput) {
  const Int8Layer layer = make_layer(at::randn({4, 8}), false, ActivationQuant{}, false);
  const LayerKernelPtr k = backend_by_name(GetParam()).make_kernel(LayerKind::kLinear, layer, {});
  testing::expect_error([&] { k->forward(at::randn({2, 9})); }, "expected input [..., 8]");
}

INSTANTIATE_TEST_SUITE_P(Backends, Int8BackendTest, ::testing::ValuesIn(fast_backends()),
                         [](const auto& info) { return info.param; });

TEST(Int8Choice, AutoFollowsIncRule) {
  const Int8Layer layer = make_layer(at::randn({4, 8}), false, ActivationQuant{}, false);
  std::string reason;
  const Backend& b = choose_backend("auto", LayerKind::kLinear, layer, &reason);
  std::string isa;
  if (onednn_int8_accelerated(&isa)) {
    EXPECT_EQ(b.name, "onednn");
    EXPECT_EQ(reason, "auto: oneDNN reports int8 acceleration (ISA " + isa + ")");
  } else {
    // Without int8 dot products: qtune's exact kernels, and the reason names the ISA.
    EXPECT_EQ(b.name, "native");
    EXPECT_NE(reason.find("auto: exact native int8 kernels, " + native_int8_isa_description()),
              std::string::npos)
        << reason;
    EXPECT_NE(reason.find("onednn: oneDNN ISA " + isa + " has no int8 dot product"),
              std::string::npos)
        << reason;
  }
  EXPECT_NE(b.name, "eager") << reason;
  EXPECT_EQ(choose_backend("eager", LayerKind::kLinear, layer, &reason).name, "eager");
}

}  // namespace
}  // namespace qtune
