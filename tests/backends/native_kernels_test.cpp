// The native weight-only kernels (backends/native): repack/unpack give the
// stored form back bit-exactly; the reference twin computes, on both paths,
// what the stored weight means (with its scales rounded to fp16); every SIMD
// path the CPU can run computes what the reference twin computes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "backends/native/isa_entries.h"
#include "backends/native/native_kernel.h"
#include "backends/native/repack.h"
#include "backends/native/woq_decode.h"
#include "common/fp16.h"
#include "quant/packing.h"
#include "support/expect_error.h"

namespace qtune::native {
namespace {

constexpr uint64_t kSeed = 11;
constexpr double kEps32 = 0x1.0p-24;  // unit roundoff of fp32

struct Case {
  std::string name;
  QuantSpec spec;
  bool act_order = false;  ///< g_idx from a random act_order permutation
};

QuantSpec make_spec(int bits, Scheme scheme, Granularity gran, int64_t group) {
  QuantSpec s;
  s.bits = bits;
  s.scheme = scheme;
  s.granularity = gran;
  s.group_size = group;
  return s;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  const std::vector<std::pair<Granularity, int64_t>> grans = {
      {Granularity::kPerChannel, 0}, {Granularity::kPerGroup, 32}, {Granularity::kPerGroup, 64},
      {Granularity::kPerGroup, 128}, {Granularity::kPerGroup, 16}, {Granularity::kPerGroup, 48}};
  for (int bits : {2, 3, 4, 8})
    for (int zero = 0; zero < 3; ++zero)  // sym, asym, float zero
      for (const auto& [gran, group] : grans) {
        QuantSpec s = make_spec(bits, zero == 0 ? Scheme::kSym : Scheme::kAsym, gran, group);
        s.float_zero = zero == 2;
        std::ostringstream name;
        name << "w" << bits
             << (zero == 0   ? "sym"
                 : zero == 1 ? "asym"
                             : "hqq")
             << "_g" << (gran == Granularity::kPerChannel ? -1 : group);
        cases.push_back({name.str(), s});
      }
  for (int bits : {1, 5, 6, 7})
    for (Scheme scheme : {Scheme::kSym, Scheme::kAsym})
      cases.push_back({"w" + std::to_string(bits) + to_string(scheme) + "_g32",
                       make_spec(bits, scheme, Granularity::kPerGroup, 32)});
  cases.push_back({"w4sym_tensor", make_spec(4, Scheme::kSym, Granularity::kPerTensor, 0), false});
  cases.push_back(
      {"w8asym_tensor", make_spec(8, Scheme::kAsym, Granularity::kPerTensor, 0), false});
  QuantSpec fr = make_spec(4, Scheme::kSym, Granularity::kPerGroup, 32);
  fr.full_range = true;
  cases.push_back({"w4sym_fullrange_g32", fr});
  for (int64_t group : {32, 16, 128})
    for (Scheme scheme : {Scheme::kSym, Scheme::kAsym})
      for (int bits : {4, 8})
        cases.push_back(
            {"actorder_w" + std::to_string(bits) + to_string(scheme) + "_g" + std::to_string(group),
             make_spec(bits, scheme, Granularity::kPerGroup, group), true});
  QuantSpec dq = make_spec(4, Scheme::kAsym, Granularity::kPerGroup, 32);
  dq.scale_quant = {6, Scheme::kAsym, 16};
  cases.push_back({"w4asym_g32_dq6", dq});
  QuantSpec dqz = make_spec(4, Scheme::kAsym, Granularity::kPerGroup, 64);
  dqz.float_zero = true;
  dqz.scale_quant = {8, Scheme::kAsym, 32};
  dqz.zero_quant = {8, Scheme::kAsym, 32};
  cases.push_back({"hqq4_g64_dq8", dqz});
  QuantSpec dqa = dq;
  cases.push_back({"actorder_w4asym_g32_dq6", dqa, true});
  for (DType t : {DType::kNf4, DType::kFp4})
    for (int64_t group : {32, 64, 16}) {
      QuantSpec s = make_spec(4, Scheme::kSym, Granularity::kPerGroup, group);
      s.dtype = t;
      cases.push_back({to_string(t) + "_g" + std::to_string(group), s});
    }
  return cases;
}

/// Weights with row and column scales spread over 2^±3, so groups differ.
at::Tensor random_weight(int64_t n, int64_t k) {
  return at::randn({n, k}) * at::exp2(at::randint(-3, 4, {n, 1}).to(at::kFloat)) *
         at::exp2(at::randint(-2, 3, {1, k}).to(at::kFloat));
}

/// A quantized weight as the algorithms store it. act_order: the columns are
/// quantized in a random order (GPTQ's act_order), group i / group_size of that
/// order, and stored in the original order with g_idx.
QuantizedWeight quantize(const Case& c, const at::Tensor& w) {
  if (!c.act_order) return QuantizedWeight::from_float(w, c.spec);
  const int64_t k = w.size(1);
  const at::Tensor perm = at::randperm(k, at::kLong);
  QuantSpec plain = c.spec;
  plain.scale_quant = {};
  plain.zero_quant = {};
  const QuantizedWeight qp = QuantizedWeight::from_float(w.index_select(1, perm), plain);
  const at::Tensor codes_perm = from_unsigned(unpack_rows(qp.packed, plain.bits, k), plain);
  at::Tensor codes = at::empty_like(codes_perm);
  codes.index_copy_(1, perm, codes_perm);
  at::Tensor g_idx = at::empty({k}, at::kInt);
  g_idx.index_copy_(
      0, perm,
      at::div(at::arange(k, at::kLong), plain.effective_group_size(k), "floor").to(at::kInt));
  QuantSpec spec = c.spec;
  spec.has_g_idx = true;
  const at::Tensor zero = qp.zero.defined() ? qp.zero : at::zeros(qp.scale.sizes(), at::kInt);
  return QuantizedWeight::from_codes(codes, {qp.scale, zero}, spec, w.sizes().vec(), g_idx);
}

at::Tensor fp16_round(const at::Tensor& t) { return t.to(at::kHalf).to(at::kFloat); }

/// The weight the packed layer means, built from the stored form (not from
/// the PackedWeight): scales and float-zero mins rounded to fp16 relative to
/// `global_scale`, as packed_weight.h says. `wq` gets the part of W that
/// multiplies the codes, `wm` the float-zero part (0 otherwise); W = wq + wm.
void expected_weight(const QuantizedWeight& q, float global_scale, at::Tensor* wq, at::Tensor* wm) {
  const QuantSpec& s = q.spec;
  const int64_t R = q.matrix_rows(), C = q.matrix_cols();
  const at::Tensor u = unpack_rows(q.packed, s.bits, C).to(at::kDouble);
  at::Tensor col_group =
      s.has_g_idx ? q.g_idx.to(at::kLong)
                  : at::div(at::arange(C, at::kLong), s.effective_group_size(C), "floor");
  const auto per_column = [&](const at::Tensor& p) {
    return p.to(at::kDouble).expand({R, p.size(1)}).index_select(1, col_group);
  };
  const at::Tensor s16 = per_column(fp16_round(q.scale / global_scale)) * global_scale;
  const int base = s.dtype == DType::kInt && s.bits > 4 ? 1 << (s.bits - 1) : 0;
  if (s.dtype != DType::kInt) {
    const auto& t = dtype_table(s.dtype);
    const at::Tensor table = at::tensor(std::vector<double>(t.begin(), t.end()), at::kDouble);
    *wq = s16 * table.index_select(0, u.to(at::kLong).flatten()).view({R, C});
    *wm = at::zeros({R, C}, at::kDouble);
  } else if (s.float_zero) {
    const at::Tensor m = (q.scale * (static_cast<float>(base) - q.zero)) / global_scale;
    *wq = s16 * (u - base);
    *wm = per_column(fp16_round(m)) * global_scale;
  } else {
    const at::Tensor q_minus_zero =
        s.scheme == Scheme::kSym ? u - (1 << (s.bits - 1)) : u - per_column(q.zero);
    *wq = s16 * q_minus_zero;
    *wm = at::zeros({R, C}, at::kDouble);
  }
}

struct Problem {
  QuantizedWeight q;
  PackedWeight p;
  at::Tensor x, bias;  ///< float [M, K], [N]
  at::Tensor wq, wm;   ///< double [N, K], see expected_weight
  at::Tensor y_exact;  ///< double [M, N]: x · (wq + wm)ᵀ + bias
  at::Tensor abs_sum;  ///< double [M, N]: |x| · (|wq| + |wm|)ᵀ + |bias|
};

Problem make_problem(const Case& c, int64_t m, int64_t n, int64_t k) {
  Problem pr;
  pr.q = quantize(c, random_weight(n, k));
  pr.p = repack(pr.q);
  pr.x = at::randn({m, k}) * at::exp2(at::randint(-2, 3, {1, k}).to(at::kFloat));
  pr.bias = at::randn({n});
  expected_weight(pr.q, pr.p.global_scale, &pr.wq, &pr.wm);
  const at::Tensor xd = pr.x.to(at::kDouble), bd = pr.bias.to(at::kDouble);
  pr.y_exact = at::matmul(xd, (pr.wq + pr.wm).t()) + bd;
  pr.abs_sum = at::matmul(xd.abs(), (pr.wq.abs() + pr.wm.abs()).t()) + bd.abs();
  return pr;
}

at::Tensor run(const IsaKernels& k, const Problem& pr, Path path, PreparedActivations* a) {
  const int64_t m = pr.x.size(0), n = pr.p.rows;
  k.prepare(pr.p, pr.x.data_ptr<float>(), m, pr.x.size(1), path, a);
  at::Tensor y = at::full({m, n}, std::nanf(""), at::kFloat);
  // Two row ranges: the result may not depend on how rows are split.
  const int64_t mid = n / 3;
  k.gemm_rows(pr.p, *a, path, pr.bias.data_ptr<float>(), y.data_ptr<float>(), n, 0, mid);
  k.gemm_rows(pr.p, *a, path, pr.bias.data_ptr<float>(), y.data_ptr<float>(), n, mid, n);
  return y;
}

/// max |got - want| / tol over the elements, failing on NaN or on no elements.
double worst_ratio(const at::Tensor& got, const at::Tensor& want, const at::Tensor& tol) {
  EXPECT_GT(got.numel(), 0);
  EXPECT_FALSE(at::isnan(got).any().item<bool>());
  return ((got.to(at::kDouble) - want.to(at::kDouble)).abs() / tol).max().item<double>();
}

/// The block of each input column in the packed layout.
std::vector<int64_t> block_of_column(const PackedWeight& p) {
  std::vector<int64_t> block(p.cols, -1);
  for (int64_t pos = 0; pos < p.padded_cols(); ++pos) {
    const int64_t col = p.column_of.empty() ? (pos < p.cols ? pos : -1) : p.column_of[pos];
    if (col >= 0) block[col] = pos / kBlock;
  }
  return block;
}

/// sum_k |wq[r, k]| * amax(x[i], block(k)) / 254 * 1.0001 [M, N]: the most that
/// replacing x by x̂ (|x - x̂| <= amax / 254 per block) moves the codes' part.
at::Tensor int8_slack(const Problem& pr) {
  const int64_t m = pr.x.size(0), k = pr.x.size(1);
  const at::Tensor bidx = at::tensor(block_of_column(pr.p), at::kLong);
  at::Tensor amax = at::zeros({m, pr.p.blocks}, at::kDouble);
  amax.scatter_reduce_(1, bidx.expand({m, k}), pr.x.abs().to(at::kDouble), "amax");
  return at::matmul(amax.index_select(1, bidx) / 254 * 1.0001, pr.wq.abs().t());
}

std::vector<Isa> isas_to_test() {
  std::vector<Isa> isas = {Isa::kRef};
  if (detect_cpu_isa() >= Isa::kAvx2) isas.push_back(Isa::kAvx2);
  if (detect_cpu_isa() >= Isa::kAvx512) isas.push_back(Isa::kAvx512);
  return isas;
}

// {40, 1100}: more than one 512-column chunk of the AVX-512 int8 GEMM (partial
// sums carried in y) and a second 32-row panel of 8 rows.
const std::vector<std::pair<int64_t, int64_t>> kShapes = {{1, 1},  {7, 33}, {33, 100}, {17, 65},
                                                          {3, 31}, {65, 7}, {9, 257},  {40, 1100}};
const std::vector<int64_t> kMs = {1, 2, 3, 4, 5, 17, 33};

TEST(NativeRepack, UnpackGivesTheStoredCodesBack) {
  at::manual_seed(kSeed);
  int checked = 0;
  for (const Case& c : all_cases())
    for (const auto& [n, k] : kShapes) {
      SCOPED_TRACE(c.name + " n=" + std::to_string(n) + " k=" + std::to_string(k));
      const QuantizedWeight q = quantize(c, random_weight(n, k));
      const PackedWeight p = repack(q);
      QuantizedWeight meta = q;
      meta.packed = at::Tensor();
      const QuantizedWeight back = unpack(p, meta);
      ASSERT_TRUE(at::equal(back.packed, q.packed));
      // Shape of the layout: whole blocks, every column once, per-format bytes.
      EXPECT_EQ(p.rows, n);
      EXPECT_EQ(p.cols, k);
      EXPECT_GE(p.padded_cols(), k);
      EXPECT_EQ(p.codes.size, n * p.blocks * bytes_per_block(p.format));
      EXPECT_EQ(static_cast<int64_t>(p.d.size()), n * p.blocks);
      EXPECT_EQ(p.format, c.spec.dtype != DType::kInt ? CodeFormat::kTable4
                          : c.spec.bits > 4           ? CodeFormat::kS8
                                                      : CodeFormat::kU4);
      // global_scale is a power of two bringing the largest |d| into [2^14, 2^15].
      int e = 0;
      EXPECT_EQ(std::frexp(p.global_scale, &e), 0.5f);
      const float top = q.scale.abs().max().item<float>();
      if (!c.spec.float_zero && top > 0) {
        EXPECT_GE(top / p.global_scale, 16384.0f);
        EXPECT_LT(top / p.global_scale, 32768.0f);
      }
      ++checked;
    }
  EXPECT_GT(checked, 100);
}

TEST(NativeRepack, RefusesGroupDim0) {
  QuantSpec s;
  s.group_dim = 0;
  std::string reason;
  EXPECT_FALSE(native_supports(s, &reason));
  EXPECT_EQ(reason, kReasonGroupDim0);
  s.group_dim = 1;
  EXPECT_TRUE(native_supports(s, &reason));
}

TEST(NativeFp16, ConversionsMatchAten) {
  // Every fp16 value back to float, and float -> fp16 on values around ties,
  // subnormals and overflow, against ATen's round-to-nearest-even at::Half.
  at::Tensor h = at::arange(0, 65536, at::kInt).to(at::kShort);
  const at::Tensor as_half = h.view(at::kHalf).to(at::kFloat);
  const int16_t* hp = h.data_ptr<int16_t>();
  const float* fp = as_half.data_ptr<float>();
  for (int64_t i = 0; i < 65536; ++i) {
    const float got = fp16_to_float(static_cast<uint16_t>(hp[i]));
    if (std::isnan(fp[i]))
      EXPECT_TRUE(std::isnan(got));
    else
      ASSERT_EQ(fp32_bits(got), fp32_bits(fp[i])) << "fp16 bits " << i;
  }
  at::manual_seed(kSeed);
  const at::Tensor f = at::cat({at::randn({20000}) * at::exp2(at::randint(-30, 18, {20000})),
                                // midpoints between neighbouring fp16 values: ties
                                (as_half.slice(0, 0, 31743) + as_half.slice(0, 1, 31744)) / 2});
  const at::Tensor want = f.to(at::kHalf).view(at::kShort);
  const float* fv = f.data_ptr<float>();
  const int16_t* wv = want.data_ptr<int16_t>();
  for (int64_t i = 0; i < f.numel(); ++i)
    ASSERT_EQ(fp16_from_float(fv[i]), static_cast<uint16_t>(wv[i])) << "value " << fv[i];
}

TEST(NativeIsa, CapParsesAndCaps) {
  const char* old = std::getenv("QTUNE_MAX_ISA");
  const std::string saved = old ? old : "";
  std::string reason;
  unsetenv("QTUNE_MAX_ISA");
  EXPECT_EQ(active_isa(&reason), detect_cpu_isa());
  EXPECT_FALSE(reason.empty());
  setenv("QTUNE_MAX_ISA", "ref", 1);
  EXPECT_EQ(active_isa(&reason), Isa::kRef);
  if (detect_cpu_isa() > Isa::kRef) EXPECT_NE(reason.find("QTUNE_MAX_ISA"), std::string::npos);
  setenv("QTUNE_MAX_ISA", "avx2", 1);
  EXPECT_EQ(active_isa(), std::min(Isa::kAvx2, detect_cpu_isa()));
  setenv("QTUNE_MAX_ISA", "avx512", 1);
  EXPECT_EQ(active_isa(), detect_cpu_isa());
  setenv("QTUNE_MAX_ISA", "avx9000", 1);
  testing::expect_error([] { active_isa(); }, "QTUNE_MAX_ISA: expected ref, avx2 or avx512");
  if (old)
    setenv("QTUNE_MAX_ISA", saved.c_str(), 1);
  else
    unsetenv("QTUNE_MAX_ISA");
  EXPECT_EQ(to_string(Isa::kAvx512), "avx512");
  EXPECT_EQ(to_string(Path::kInt8Activations), "int8-act");
  EXPECT_EQ(to_string(Path::kDequantized), "dequant+gemm");
  EXPECT_EQ(kernels_for(Isa::kRef).isa, Isa::kRef);
  if (detect_cpu_isa() < Isa::kAvx512)
    testing::expect_error([] { kernels_for(Isa::kAvx512); }, "not available on this CPU");
}

// The path rule worked by hand at the edges of its bands (README's "Native
// weight-only kernels" states it), and its text naming the same edges.
TEST(NativePathRule, BandsAndTheirText) {
  const LayerKind lin = LayerKind::kLinear, conv = LayerKind::kConv2d;
  const CodeFormat u4 = CodeFormat::kU4, s8 = CodeFormat::kS8, table = CodeFormat::kTable4;
  EXPECT_EQ(choose_path(lin, 1, u4, false, Isa::kAvx512), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 100000, u4, false, Isa::kAvx512), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 100000, u4, false, Isa::kAvx2), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 32, s8, false, Isa::kAvx2), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 33, s8, false, Isa::kAvx2), Path::kFloat);
  EXPECT_EQ(choose_path(lin, 100000, s8, false, Isa::kAvx512), Path::kInt8Activations);
  // Asym int8 stays off the int8 GEMM; other zero points do not change a path.
  EXPECT_EQ(choose_path(lin, 16, s8, true, Isa::kAvx512), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 17, s8, true, Isa::kAvx512), Path::kFloat);
  EXPECT_EQ(choose_path(lin, 100000, u4, true, Isa::kAvx512), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 100000, u4, true, Isa::kAvx2), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 33, s8, true, Isa::kAvx2), Path::kFloat);
  EXPECT_EQ(choose_path(lin, 32, u4, false, Isa::kRef), Path::kInt8Activations);
  EXPECT_EQ(choose_path(lin, 33, u4, false, Isa::kRef), Path::kFloat);
  for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512}) {
    EXPECT_EQ(choose_path(conv, 32, u4, false, isa), Path::kInt8Activations);
    EXPECT_EQ(choose_path(conv, 33, u4, false, isa), Path::kFloat);
    EXPECT_EQ(choose_path(conv, 255, u4, false, isa), Path::kFloat);
    EXPECT_EQ(choose_path(conv, 256, u4, false, isa), Path::kDequantized);
    EXPECT_EQ(choose_path(conv, 256, table, false, isa), Path::kDequantized);
    // A Linear never decodes whole, at any M and format.
    for (int64_t m : {1, 256, 100000}) {
      EXPECT_EQ(choose_path(lin, m, table, false, isa), Path::kFloat) << m;
      EXPECT_NE(choose_path(lin, m, u4, false, isa), Path::kDequantized) << m;
    }
  }
  EXPECT_EQ(path_rule(lin, u4, false, Isa::kAvx512), "int8-act (every M)");
  EXPECT_EQ(path_rule(lin, u4, false, Isa::kAvx2), "int8-act (every M)");
  EXPECT_EQ(path_rule(lin, s8, false, Isa::kAvx2), "int8-act (M <= 32), fma (larger M)");
  EXPECT_EQ(path_rule(lin, s8, true, Isa::kAvx512), "int8-act (M <= 16), fma (larger M)");
  EXPECT_EQ(path_rule(conv, u4, false, Isa::kAvx512),
            "int8-act (M <= 32), fma (M <= 255), dequant+gemm (larger M)");
  EXPECT_EQ(path_rule(lin, table, false, Isa::kAvx512), "fma (every M)");
  EXPECT_EQ(path_rule(conv, table, false, Isa::kAvx2), "fma (M <= 255), dequant+gemm (larger M)");
}

// The reference twin against the meaning of the stored weight.
//  fma path: the same real number up to fp32 rounding. Each product and sum
//    of the reference is one rounding; an output goes through at most
//    32 (block) + blocks + 4 of them, so |y - exact| <= (36 + blocks) * u *
//    sum |terms| (u = 2^-24), doubled as margin.
//  int8-act path: the activations of a block are replaced by x̂ = scale * q,
//    |x - x̂| <= scale / 2 = amax / 254 (q = nearbyint(x * 127 / amax); the
//    fp32 rounding of 127 / amax and of the product moves q by < 1e-5, the
//    factor 1.0001 below), so |y - exact| <= sum_k |wq[k]| * amax(block(k)) /
//    254 * 1.0001 + the fp32 rounding above (the float-zero part, wm, reads
//    the unquantized block sum).
TEST(NativeRef, BothPathsComputeTheStoredWeight) {
  at::manual_seed(kSeed);
  PreparedActivations a;
  int64_t compared = 0;
  double worst_fma = 0, worst_int8 = 0, int8_changed = 0;
  for (const Case& c : all_cases())
    for (const auto& [n, k] : kShapes)
      for (int64_t m : {1, 4, 17}) {
        SCOPED_TRACE(c.name + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                     " k=" + std::to_string(k));
        const Problem pr = make_problem(c, m, n, k);
        const double blocks = static_cast<double>(pr.p.blocks);
        const at::Tensor tol_fma = 2 * (36 + blocks) * kEps32 * pr.abs_sum + 1e-30;
        const at::Tensor y_fma = run(ref_kernels(), pr, Path::kFloat, &a);
        worst_fma = std::max(worst_fma, worst_ratio(y_fma, pr.y_exact, tol_fma));
        // The stored weight, through QuantizedWeight::dequantize(), agrees with
        // expected_weight up to the fp16 rounding of the scales (2^-11 relative).
        const at::Tensor deq = pr.q.dequantize().to(at::kDouble);
        const at::Tensor w16 = pr.wq + pr.wm;
        const at::Tensor wtol = 0x1.0p-11 * (pr.wq.abs() + pr.wm.abs()) * 1.001 +
                                4 * kEps32 * (deq.abs() + pr.wq.abs() + pr.wm.abs()) + 1e-30;
        ASSERT_LE(((w16 - deq).abs() / wtol).max().item<double>(), 1.0);
        if (!path_supports(Path::kInt8Activations, pr.p.format)) continue;
        const at::Tensor tol_int8 = int8_slack(pr) + tol_fma;
        const at::Tensor y_int8 = run(ref_kernels(), pr, Path::kInt8Activations, &a);
        worst_int8 = std::max(worst_int8, worst_ratio(y_int8, pr.y_exact, tol_int8));
        int8_changed =
            std::max(int8_changed,
                     ((y_int8.to(at::kDouble) - pr.y_exact).abs() / tol_fma).max().item<double>());
        compared += m * n;
      }
  EXPECT_LE(worst_fma, 1.0);
  EXPECT_LE(worst_int8, 1.0);
  // Not vacuous: comparisons happened, and quantizing the activations moved
  // results far beyond fp32 rounding (the int8 bound is doing work).
  EXPECT_GT(compared, 10000);
  EXPECT_GT(int8_changed, 10.0);
}

// decode_rows against the meaning of the stored weight: each value is
// (global_scale * d) * (c - offset) + global_scale * m, where the first
// product is exact (global_scale is a power of two), so it is the exact value
// after at most two fp32 roundings: |w - exact| <= 2 u (|wq| + |wm|), on
// every ISA (the SIMD ones fuse the has_min sum: one rounding). Any row range
// gives the same values.
TEST(NativeDecode, DecodedRowsAreTheStoredWeight) {
  at::manual_seed(kSeed + 7);
  int64_t compared = 0;
  for (const Case& c : all_cases())
    for (const auto& [n, k] : kShapes)
      for (Isa isa : isas_to_test()) {
        SCOPED_TRACE(c.name + " n=" + std::to_string(n) + " k=" + std::to_string(k) + " " +
                     to_string(isa));
        const IsaKernels& kern = kernels_for(isa);
        const Problem pr = make_problem(c, 1, n, k);
        at::Tensor whole = at::full({n, k}, std::nanf(""), at::kFloat);
        kern.decode_rows(pr.p, 0, n, whole.data_ptr<float>());
        const at::Tensor tol = 2 * kEps32 * (pr.wq.abs() + pr.wm.abs()) + 1e-30;
        ASSERT_LE(((whole.to(at::kDouble) - (pr.wq + pr.wm)).abs() / tol).max().item<double>(),
                  1.0);
        const int64_t mid = n / 2;
        at::Tensor split = at::full({n, k}, std::nanf(""), at::kFloat);
        kern.decode_rows(pr.p, 0, mid, split.data_ptr<float>());
        kern.decode_rows(pr.p, mid, n, split.data_ptr<float>() + mid * k);
        ASSERT_TRUE(at::equal(whole, split));
        compared += n * k;
      }
  EXPECT_GT(compared, 10000);
}

// Every SIMD int8-act path against the reference twin's int8-act path. Both
// compute the same q, the same int32 block sums and the same fp16 scales; only
// the fp32 order of the block terms differs (lanes, FMA). Each output is at
// most blocks + 16 (lane reduction) + 4 roundings from the exact sum of its
// terms on either side, the sum of |terms| bounded by abs_sum + int8_slack
// (|x̂| <= |x| + amax / 254): |simd - ref| <= 2 (blocks + 20) u T, doubled
// as margin.
TEST(NativeSimd, Int8ActivationsEqualTheReferenceTwin) {
  const std::vector<Isa> isas = isas_to_test();
  if (isas.size() == 1) GTEST_SKIP() << "CPU lacks AVX2/FMA/F16C: no SIMD path to test";
  at::manual_seed(kSeed);
  PreparedActivations a_ref, a_simd;
  int64_t compared = 0;
  for (const Case& c : all_cases()) {
    if (c.spec.dtype != DType::kInt) continue;  // no int8-act path for tables
    for (const auto& [n, k] : kShapes)
      for (int64_t m : kMs) {
        SCOPED_TRACE(c.name + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                     " k=" + std::to_string(k));
        const Problem pr = make_problem(c, m, n, k);
        const at::Tensor y_ref = run(ref_kernels(), pr, Path::kInt8Activations, &a_ref);
        const at::Tensor tol =
            4 * (pr.p.blocks + 20) * kEps32 * (pr.abs_sum + int8_slack(pr)) + 1e-30;
        for (size_t i = 1; i < isas.size(); ++i) {
          SCOPED_TRACE(to_string(isas[i]));
          const at::Tensor y = run(kernels_for(isas[i]), pr, Path::kInt8Activations, &a_simd);
          ASSERT_LE(worst_ratio(y, y_ref, tol), 1.0);
          // The quantized activations are the same numbers on every ISA.
          const int64_t used = m * pr.p.padded_cols();
          ASSERT_TRUE(std::equal(a_ref.q.begin(), a_ref.q.begin() + used, a_simd.q.begin()));
          ASSERT_TRUE(std::equal(a_ref.code_sum.begin(), a_ref.code_sum.begin() + m * pr.p.blocks,
                                 a_simd.code_sum.begin()));
          compared += m * n;
        }
      }
  }
  EXPECT_GT(compared, 10000);
}

}  // namespace
}  // namespace qtune::native
