// The SIMD kFloat entries (woq_float_avx2.cpp, woq_float_avx512.cpp) against
// the reference twin (woq_gemm_ref.cpp), on every ISA this CPU runs under
// QTUNE_MAX_ISA: every code format (int2/3/4 as kU4, int8 as kS8, nf4/fp4 as
// kTable4), sym / asym / float zero, group sizes that pad blocks, g_idx, and
// M and N on both sides of the loops' tiles (M <= 4 runs the dot loop, larger
// M the panel loop; N around the 16/32-row panels; K beyond one 256-column
// panel chunk).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "backends/native/isa_entries.h"
#include "backends/native/repack.h"
#include "common/fp16.h"
#include "quant/quantized_weight.h"
#include "support/quant_specs.h"

namespace qtune::native {
namespace {

constexpr uint64_t kSeed = 11;

using qtune::testing::int_spec;
using qtune::testing::table_spec;

/// A weight [n, k] quantized with `spec` (g_idx: a random permutation of groups).
QuantizedWeight quantized(int64_t n, int64_t k, const QuantSpec& spec, bool g_idx) {
  const at::Tensor w = at::randn({n, k});
  if (!g_idx) return QuantizedWeight::from_float(w, spec);
  QuantSpec s = spec;
  s.has_g_idx = true;
  const int64_t G = s.groups_per_row(k);
  const at::Tensor gi = at::randint(0, G, {k}, at::kInt);
  const QuantParams p = compute_params(w, spec);  // same groups; only the columns move
  const at::Tensor codes = quantize_codes(w, p, spec);
  return QuantizedWeight::from_codes(codes, p, s, {n, k}, gi);
}

/// Code j of block b of row r, as packed_weight.h draws it.
int32_t code(const PackedWeight& w, int64_t r, int64_t b, int j) {
  const uint8_t* p = w.codes.data.get() + (r * w.blocks + b) * bytes_per_block(w.format);
  if (w.format == CodeFormat::kS8) return static_cast<int8_t>(p[j]);
  return j < 16 ? (p[j] & 0x0F) : (p[j - 16] >> 4);
}

/// gs * sum over positions of |x| * (|d * (c - offset)| or |d * table[c]|, or
/// |d * c| + |m| with a float zero): what bounds the rounding of any fp32
/// summation order of the product, in double.
double magnitude(const PackedWeight& w, const PreparedActivations& a, int64_t i, int64_t r) {
  double s = 0;
  for (int64_t b = 0; b < w.blocks; ++b) {
    const double d = std::fabs(fp16_to_float(w.d[r * w.blocks + b]));
    const double m = w.has_min ? std::fabs(fp16_to_float(w.m[r * w.blocks + b])) : 0.0;
    const int32_t off = w.code_offset + (w.has_zero ? w.zero[r * w.blocks + b] : 0);
    for (int j = 0; j < kBlock; ++j) {
      const int32_t c = code(w, r, b, j);
      const double v = w.format == CodeFormat::kTable4 ? std::fabs(w.table[c])
                       : w.has_min                     ? std::abs(c)
                                                       : std::abs(c - off);
      s += std::fabs(a.x[i * a.padded_cols + b * kBlock + j]) * (d * v + m);
    }
  }
  return w.global_scale * s;
}

std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  const Isa top = active_isa();
  if (top >= Isa::kAvx2) isas.push_back(Isa::kAvx2);
  if (top >= Isa::kAvx512) isas.push_back(Isa::kAvx512);
  return isas;
}

struct Case {
  const char* name;
  QuantSpec spec;
  bool g_idx = false;
};

std::vector<Case> cases() {
  return {
      {"int4 sym g32", int_spec(4, Scheme::kSym, 32)},
      {"int4 asym g128", int_spec(4, Scheme::kAsym, 128)},
      {"int4 asym g64 g_idx", int_spec(4, Scheme::kAsym, 64), true},
      {"int3 sym g16", int_spec(3, Scheme::kSym, 16)},
      {"int3 asym per-channel", int_spec(3, Scheme::kAsym, -1)},
      {"int2 asym g32", int_spec(2, Scheme::kAsym, 32)},
      {"int2 sym g48", int_spec(2, Scheme::kSym, 48)},
      {"int8 sym per-channel", int_spec(8, Scheme::kSym, -1)},
      {"int8 asym g32", int_spec(8, Scheme::kAsym, 32)},
      {"int4 float zero g64", int_spec(4, Scheme::kAsym, 64, true)},
      {"int8 float zero g32", int_spec(8, Scheme::kAsym, 32, true)},
      {"nf4 g32", table_spec(DType::kNf4, 32)},
      {"fp4 g64 g_idx", table_spec(DType::kFp4, 64), true},
  };
}

/// y of rows [r0, r1) for all m rows through `gemm_rows`, bias included; NaN elsewhere.
std::vector<float> run(const IsaKernels& k, const PackedWeight& w, const PreparedActivations& a,
                       const float* bias, int64_t r0, int64_t r1) {
  std::vector<float> y(a.m * w.rows, std::nanf(""));
  k.gemm_rows(w, a, Path::kFloat, bias, y.data(), w.rows, r0, r1);
  return y;
}

TEST(NativeFloat, SimdMatchesReferenceTwin) {
  const std::vector<Isa> isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "the CPU (or QTUNE_MAX_ISA) allows no SIMD ISA";
  at::manual_seed(kSeed);
  int64_t compared = 0;
  for (const Case& c : cases())
    for (const auto& [n, k] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 17}, {7, 33}, {17, 100}, {33, 64}, {40, 129}, {65, 600}}) {
      const PackedWeight w = repack(quantized(n, k, c.spec, c.g_idx));
      const at::Tensor bias = at::randn({n});
      for (int64_t m : {1, 2, 3, 4, 5, 7, 13, 17}) {
        const at::Tensor x = at::randn({m, k});
        PreparedActivations a;
        ref_prepare_float(w, x.data_ptr<float>(), m, k, &a);
        // Rows [1, n - 1) when there are enough: outputs outside stay untouched.
        const int64_t r0 = n > 2 ? 1 : 0, r1 = n > 2 ? n - 1 : n;
        const std::vector<float> want = run(ref_kernels(), w, a, bias.data_ptr<float>(), r0, r1);
        for (Isa isa : isas) {
          const std::vector<float> got =
              run(kernels_for(isa), w, a, bias.data_ptr<float>(), r0, r1);
          bool nonzero = false;
          for (int64_t i = 0; i < m; ++i)
            for (int64_t r = 0; r < n; ++r) {
              const float g = got[i * n + r], e = want[i * n + r];
              if (r < r0 || r >= r1) {
                EXPECT_TRUE(std::isnan(g)) << "row " << r << " outside [r0, r1) was written";
                continue;
              }
              // Both sides sum the same exact products (weights exact in
              // fp32, see woq_float_avx2.cpp) in different orders: each
              // fp32 sum of n terms errs by at most n * 2^-24 of the sum of
              // magnitudes; the reference adds two levels (32 + blocks) and
              // the SIMD side one chain of K plus the lane reduction, both
              // below padded_cols + 64 terms; plus the bias addition.
              const double tol = (2.0 * w.padded_cols() + 130) * std::ldexp(1.0, -24) *
                                     (magnitude(w, a, i, r) + std::fabs(e)) +
                                 1e-30;
              EXPECT_NEAR(g, e, tol) << c.name << " " << to_string(isa) << " m=" << m << " n=" << n
                                     << " k=" << k << " i=" << i << " r=" << r;
              nonzero = nonzero || g != 0.0f;
              ++compared;
            }
          EXPECT_TRUE(nonzero) << c.name << ": all-zero output proves nothing";
        }
      }
    }
  EXPECT_GT(compared, 0);
}

// A row's output must not depend on which range it was computed in: this is
// what makes the layer's result independent of the thread count.
TEST(NativeFloat, RowRangesDoNotChangeResults) {
  const std::vector<Isa> isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "the CPU (or QTUNE_MAX_ISA) allows no SIMD ISA";
  at::manual_seed(kSeed + 1);
  const int64_t n = 75, k = 300;
  for (const Case& c : {cases()[1], cases()[7], cases()[9], cases()[11]}) {
    const PackedWeight w = repack(quantized(n, k, c.spec, c.g_idx));
    for (int64_t m : {1, 3, 9, 20}) {
      const at::Tensor x = at::randn({m, k});
      PreparedActivations a;
      ref_prepare_float(w, x.data_ptr<float>(), m, k, &a);
      for (Isa isa : isas) {
        const IsaKernels& kern = kernels_for(isa);
        const std::vector<float> whole = run(kern, w, a, nullptr, 0, n);
        std::vector<float> split(m * n, std::nanf(""));
        for (auto [lo, hi] :
             std::vector<std::pair<int64_t, int64_t>>{{0, 5}, {5, 6}, {6, 37}, {37, 70}, {70, 75}})
          kern.gemm_rows(w, a, Path::kFloat, nullptr, split.data(), n, lo, hi);
        EXPECT_EQ(std::memcmp(whole.data(), split.data(), whole.size() * sizeof(float)), 0)
            << c.name << " " << to_string(isa) << " m=" << m;
      }
    }
  }
}

}  // namespace
}  // namespace qtune::native
