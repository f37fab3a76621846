// The native int8 kernels against the eager reference, bit for bit, on every
// ISA this CPU has (the reference twin, AVX2, AVX-512 VNNI), on shapes that
// straddle their tiles (4 rows, 64-row tiles, 8/16-channel blocks, k pairs and
// quads), static and dynamic, u8 and s8, per channel and per tensor, Linear
// and Conv2d with stride, padding, dilation and groups.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "backends/eager/eager_int8.h"
#include "backends/int8.h"
#include "backends/native/native_int8_kernel.h"

namespace qtune {
namespace {

using native::Isa;

constexpr uint64_t kSeed = 17;

std::vector<Isa> isas_here() {
  std::vector<Isa> out{Isa::kRef};
  const Isa top = native::active_isa();
  if (top >= Isa::kAvx2) out.push_back(Isa::kAvx2);
  if (top >= Isa::kAvx512) out.push_back(Isa::kAvx512);
  return out;
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

std::vector<ActivationQuant> activation_modes() {
  std::vector<ActivationQuant> modes;
  for (bool dynamic : {false, true})
    for (bool is_signed : {false, true}) {
      ActivationQuant a;
      a.dynamic = dynamic;
      a.is_signed = is_signed;
      a.scale = 0.011f;  // static inputs reach both ends of the code range
      a.zero_point = is_signed ? 0 : 131;
      modes.push_back(a);
    }
  return modes;
}

std::string describe(const ActivationQuant& a) {
  return std::string(a.dynamic ? "dynamic " : "static ") + (a.is_signed ? "s8" : "u8");
}

// == and not at::equal: relu may give -0.0 where the reference gives 0.0.
void expect_identical(Isa isa, LayerKind kind, const Int8Layer& layer, const ConvGeometry& g,
                      const at::Tensor& x, const std::string& what) {
  const at::Tensor expected = make_eager_int8_kernel(kind, layer, g)->forward(x);
  const LayerKernelPtr k = make_native_int8_kernel_on(isa, kind, layer, g);
  EXPECT_EQ(k->backend(), "native");
  const at::Tensor y = k->forward(x);
  ASSERT_EQ(y.sizes(), expected.sizes()) << what;
  const at::Tensor same = y == expected;
  EXPECT_TRUE(same.all().item<bool>())
      << native::to_string(isa) << " " << what << ": " << (~same).sum().item<int64_t>() << " of "
      << y.numel() << " differ, max " << (y - expected).abs().max().item<float>();
  EXPECT_TRUE((k->forward_relu(x) == at::relu(expected)).all().item<bool>())
      << native::to_string(isa) << " " << what << " with ReLU";
  EXPECT_GT(expected.abs().sum().item<double>(), 0.0) << what;  // not vacuous
}

TEST(NativeInt8, HandWorkedSumsThatSaturateInt16PairSums) {
  // Two inputs at code 255 (zero point 0) times weights at code 127: the
  // integer sum is 2 * 255 * 127 = 64770, which vpmaddubsw's s16 pair sum
  // would clamp to 32767. Weight scale 1/127 (absmax 1, rounded to fp32),
  // input scale 1: y = 64770 * w_scale, 510 up to that rounding.
  Int8Layer layer = make_layer(at::ones({1, 2}), false, ActivationQuant{}, false);
  layer.input.scale = 1.0f;
  layer.input.zero_point = 0;
  const at::Tensor x = at::full({1, 2}, 300.0f);  // clamps to code 255
  for (Isa isa : isas_here()) {
    const at::Tensor y = make_native_int8_kernel_on(isa, LayerKind::kLinear, layer, {})->forward(x);
    const double w_scale = int8_weight_scales(layer.weight)[0].item<float>();
    EXPECT_EQ(y.item<float>(), static_cast<float>(64770.0 * w_scale)) << native::to_string(isa);
    EXPECT_NEAR(y.item<float>(), 510.0f, 1e-3f) << native::to_string(isa);
  }
}

TEST(NativeInt8, LinearMatchesEagerBitForBit) {
  at::manual_seed(kSeed);
  const std::vector<int64_t> ks{1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 129};
  const std::vector<int64_t> ns{1, 3, 8, 9, 16, 17, 31, 32, 33, 65};
  for (Isa isa : isas_here())
    for (const ActivationQuant& a : activation_modes())
      for (int64_t k : ks)
        for (int64_t n : ns)
          for (int64_t m : {1, 5, 67}) {
            const bool per_tensor = (k + n) % 4 == 0;
            const Int8Layer layer = make_layer(at::randn({n, k}), (k + n) % 3 != 0, a, per_tensor);
            const at::Tensor x = at::randn({m, k}) * 1.5 + 0.3;
            expect_identical(isa, LayerKind::kLinear, layer, {}, x,
                             "Linear " + std::to_string(k) + "->" + std::to_string(n) + " m " +
                                 std::to_string(m) + " " + describe(a) +
                                 (per_tensor ? " per-tensor" : " per-channel"));
            if (HasFailure()) return;
          }
}

TEST(NativeInt8, LinearKeepsLeadingDimsAndLongRows) {
  at::manual_seed(kSeed);
  // k = 1000 and 130 rows: several 64-row tiles, a 4-row tile remainder.
  const Int8Layer layer = make_layer(at::randn({40, 1000}), true, activation_modes()[0], false);
  for (Isa isa : isas_here())
    expect_identical(isa, LayerKind::kLinear, layer, {}, at::randn({2, 65, 1000}),
                     "Linear [2, 65, 1000]");
}

TEST(NativeInt8, Conv2dMatchesEagerBitForBit) {
  struct Case {
    int64_t in, out, k, stride, pad, dilation, groups;
  };
  const std::vector<Case> cases{
      {1, 16, 3, 1, 1, 1, 1},  {3, 15, 3, 2, 1, 1, 1},  {16, 17, 3, 1, 1, 1, 1},
      {17, 33, 1, 1, 0, 1, 1}, {15, 65, 3, 2, 0, 1, 1}, {16, 16, 3, 1, 2, 2, 1},
      {4, 6, 3, 1, 1, 1, 2},   {9, 3, 2, 2, 1, 1, 1},   {32, 32, 3, 1, 1, 1, 4},
  };
  at::manual_seed(kSeed);
  for (Isa isa : isas_here())
    for (const ActivationQuant& a : activation_modes())
      for (const Case& c : cases)
        for (int64_t batch : {1, 3}) {
          ConvGeometry g;
          g.stride = {c.stride, c.stride};
          g.padding = {c.pad, c.pad};
          g.dilation = {c.dilation, c.dilation};
          g.groups = c.groups;
          const Int8Layer layer = make_layer(at::randn({c.out, c.in / c.groups, c.k, c.k}),
                                             c.out % 2 == 1, a, c.in == 3);
          const at::Tensor x = at::randn({batch, c.in, 9, 11}) + 0.4;
          expect_identical(isa, LayerKind::kConv2d, layer, g, x,
                           "Conv2d " + std::to_string(c.in) + "->" + std::to_string(c.out) + " k" +
                               std::to_string(c.k) + " s" + std::to_string(c.stride) + " p" +
                               std::to_string(c.pad) + " d" + std::to_string(c.dilation) + " g" +
                               std::to_string(c.groups) + " batch " + std::to_string(batch) + " " +
                               describe(a));
          if (HasFailure()) return;
        }
}

TEST(NativeInt8, ThreadCountDoesNotChangeTheBits) {
  at::manual_seed(kSeed);
  const Int8Layer lin = make_layer(at::randn({70, 300}), true, activation_modes()[1], false);
  const Int8Layer conv = make_layer(at::randn({24, 8, 3, 3}), true, activation_modes()[0], false);
  ConvGeometry g;
  g.padding = {1, 1};
  const at::Tensor xl = at::randn({3, 300}), xc = at::randn({4, 8, 20, 20});
  const int threads = at::get_num_threads();
  for (Isa isa : isas_here()) {
    const LayerKernelPtr kl = make_native_int8_kernel_on(isa, LayerKind::kLinear, lin, {});
    const LayerKernelPtr kc = make_native_int8_kernel_on(isa, LayerKind::kConv2d, conv, g);
    at::set_num_threads(1);
    const at::Tensor yl1 = kl->forward(xl), yc1 = kc->forward(xc);
    at::set_num_threads(2);
    EXPECT_TRUE(at::equal(kl->forward(xl), yl1)) << native::to_string(isa);
    EXPECT_TRUE(at::equal(kc->forward(xc), yc1)) << native::to_string(isa);
  }
  at::set_num_threads(threads);
}

// The reason active_isa must give, worked out from the CPU and the cap: a cap
// below the CPU names itself and what it capped; otherwise the CPU's features
// decide (a cap at or above the CPU changes nothing).
std::string expected_isa_reason(Isa cpu, const char* cap_env) {
  const std::string cap = cap_env ? cap_env : "";
  const Isa capped = cap == "ref" ? Isa::kRef : cap == "avx2" ? Isa::kAvx2 : Isa::kAvx512;
  if (!cap.empty() && capped < cpu)
    return "QTUNE_MAX_ISA=" + cap + " caps the CPU's " + native::to_string(cpu);
  switch (cpu) {
    case Isa::kAvx512:
      return "CPU has AVX-512 F/BW/VL/VNNI";
    case Isa::kAvx2:
      return "CPU has AVX2/FMA/F16C, not AVX-512 F/BW/VL/VNNI";
    case Isa::kRef:
      return "CPU lacks AVX2/FMA/F16C";
  }
  return "";
}

TEST(NativeInt8, ActiveIsaNamesItsReason) {
  const Isa cpu = native::detect_cpu_isa();
  const char* cap = std::getenv("QTUNE_MAX_ISA");
  std::string reason;
  const Isa isa = native::active_isa(&reason);
  EXPECT_EQ(reason, expected_isa_reason(cpu, cap)) << "QTUNE_MAX_ISA=" << (cap ? cap : "(unset)");
  EXPECT_LE(isa, cpu);
  EXPECT_EQ(native_int8_isa_description(), "ISA " + native::to_string(isa) + " (" + reason + ")");
}

}  // namespace
}  // namespace qtune
