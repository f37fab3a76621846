// The `native` LayerKernel against the eager reference: Linear and Conv2d on
// straddling shapes for every code width, scheme, group size (with partial
// last groups), g_idx, nf4/fp4 and double quant; the result independent of
// the thread count; the stored form given back bit-exactly; a saved model
// reloading onto native.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>

#include "backends/backend_list.h"
#include "backends/native/native_kernel.h"
#include "backends/native/repack.h"
#include "backends/native/woq_gemm.h"
#include "storage/artifact.h"
#include "support/quant_specs.h"
#include "support/random_fmnist_cnn.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 23;
const double kU = std::ldexp(1.0, -24);  // fp32 unit roundoff

using qtune::testing::int_spec;
using qtune::testing::table_spec;

QuantSpec double_quant(QuantSpec s) {
  s.scale_quant = ParamQuant{8, Scheme::kAsym, 64};
  if (s.float_zero) s.zero_quant = ParamQuant{8, Scheme::kAsym, 64};
  return s;
}

struct Case {
  std::string name;
  QuantSpec spec;
  bool g_idx = false;
};

std::vector<Case> cases() {
  return {
      {"int4 sym g32", int_spec(4, Scheme::kSym, 32)},
      {"int4 asym g128", int_spec(4, Scheme::kAsym, 128)},
      {"int4 sym g64 g_idx", int_spec(4, Scheme::kSym, 64), true},
      {"int4 asym g16", int_spec(4, Scheme::kAsym, 16)},
      {"int3 sym g32", int_spec(3, Scheme::kSym, 32)},
      {"int3 asym per-channel", int_spec(3, Scheme::kAsym, -1)},
      {"int2 asym g64", int_spec(2, Scheme::kAsym, 64)},
      {"int2 sym g40", int_spec(2, Scheme::kSym, 40)},
      {"int8 sym per-channel", int_spec(8, Scheme::kSym, -1)},
      {"int8 asym g32", int_spec(8, Scheme::kAsym, 32)},
      {"int4 float zero g64", int_spec(4, Scheme::kAsym, 64, true)},
      {"int4 float zero g32 double quant", double_quant(int_spec(4, Scheme::kAsym, 32, true))},
      {"int4 asym g128 double quant", double_quant(int_spec(4, Scheme::kAsym, 128))},
      {"nf4 g64", table_spec(DType::kNf4, 64)},
      {"fp4 g32 g_idx", table_spec(DType::kFp4, 32), true},
  };
}

/// `w` (rows first, any shape) quantized with `spec`; g_idx: groups drawn at random per column.
QuantizedWeight quantize(const at::Tensor& w, const QuantSpec& spec, bool g_idx) {
  if (!g_idx) return QuantizedWeight::from_float(w, spec);
  const at::Tensor m = w.reshape({w.size(0), -1});
  QuantSpec s = spec;
  s.has_g_idx = true;
  const at::Tensor gi = at::randint(0, s.groups_per_row(m.size(1)), {m.size(1)}, at::kInt);
  const QuantParams p = compute_params(m, spec);
  return QuantizedWeight::from_codes(quantize_codes(m, p, spec), p, s, w.sizes().vec(), gi);
}

/// A per-group parameter [rows or 1, groups] as one value per weight [rows, cols].
at::Tensor per_column(const QuantizedWeight& w, const at::Tensor& p) {
  const int64_t R = w.matrix_rows(), C = w.matrix_cols();
  if (w.spec.has_g_idx) return p.index_select(1, w.g_idx.to(at::kLong)).expand({R, C});
  const int64_t g = w.spec.effective_group_size(C);
  return p.repeat_interleave(g, 1).narrow(1, 0, C).expand({R, C});
}

/// Bounds |weight| per element of every form native computes from, [rows, cols]:
/// |W| for integer zero points and tables; for a float zero native adds d * c
/// and m separately, with |c| <= 2^bits and |m| <= |scale| (2^(bits-1) + |zero|).
at::Tensor weight_magnitude(const QuantizedWeight& w) {
  const at::Tensor deq = w.dequantize().reshape({w.rows(), -1}).abs();
  if (!w.spec.float_zero) return deq;
  const at::Tensor s = per_column(w, w.scale).abs();
  const at::Tensor z = per_column(w, w.zero).abs();
  return s * (std::ldexp(1.0, w.spec.bits + 1) + z);
}

/// Per output, how far native's kFloat may be from eager: each weight's
/// scale (and float zero's m) is rounded to fp16, at most 2^-11 relative
/// (normal fp16: global_scale keeps them so), and both sides round their fp32
/// sums of K products (at most (K + 64) u of the sum of magnitudes each, the
/// 64 covering block and lane reductions) plus the bias addition.
at::Tensor float_tolerance(const at::Tensor& abs_product, const at::Tensor& eager, int64_t k) {
  const double rel = std::ldexp(1.0, -11) * (1 + std::ldexp(1.0, -10)) + (2.0 * k + 130) * kU;
  return abs_product * rel + eager.abs() * 2 * kU + 1e-30;
}

/// |x - dequantized int8 x| per element for the int8-activation path: each
/// block of 32 padded positions (gathered through column_of) is quantized
/// with scale absmax / 127, so a value moves by at most half a step, plus the
/// rounding of 127 / absmax and of the product (a few u of absmax).
at::Tensor int8_activation_error(const QuantizedWeight& q, const at::Tensor& x2) {
  const native::PackedWeight p = native::repack(q);
  const at::Tensor xa = x2.abs().contiguous();
  at::Tensor err = at::zeros_like(xa);
  const int64_t M = xa.size(0), K = xa.size(1);
  for (int64_t b = 0; b < p.blocks; ++b) {
    std::vector<int64_t> cols;
    for (int64_t pos = b * native::kBlock; pos < (b + 1) * native::kBlock; ++pos) {
      const int64_t c = p.column_of.empty() ? (pos < K ? pos : -1) : p.column_of[pos];
      if (c >= 0) cols.push_back(c);
    }
    if (cols.empty()) continue;
    const at::Tensor idx = at::tensor(cols, at::kLong);
    const at::Tensor amax = std::get<0>(xa.index_select(1, idx).max(1, true));  // [M, 1]
    err.index_copy_(1, idx, (amax * (1.0 / 254 + 4 * kU)).expand({M, (int64_t)cols.size()}));
  }
  return err;
}

int64_t count_outside(const at::Tensor& got, const at::Tensor& want, const at::Tensor& tol) {
  return ((got - want).abs() > tol).sum().item<int64_t>();
}

TEST(NativeLayer, LinearMatchesEagerOnBothPaths) {
  at::manual_seed(kSeed);
  int64_t float_checked = 0, int8_checked = 0;
  for (const Case& c : cases())
    for (const auto& [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 7, 33}, {3, 17, 100}, {8, 33, 64}, {9, 65, 129}, {33, 40, 300}, {260, 9, 65}}) {
      const at::Tensor w = at::randn({n, k}), bias = at::randn({n}), x = at::randn({m, k});
      const QuantizedWeight q = quantize(w, c.spec, c.g_idx);
      const LayerKernelPtr eager =
          backend_by_name("eager").make_kernel(LayerKind::kLinear, q, bias, {});
      const LayerKernelPtr native = make_native_kernel(LayerKind::kLinear, q, bias, {});
      ASSERT_EQ(native->backend(), "native");
      const at::Tensor want = eager->forward(x), got = native->forward(x);
      ASSERT_EQ(got.sizes(), want.sizes());
      ASSERT_GT(want.abs().sum().item<double>(), 0.0) << "all-zero outputs prove nothing";
      const at::Tensor B = weight_magnitude(q);
      const native::PackedWeight packed = native::repack(q);
      const native::Path path = native::choose_path(LayerKind::kLinear, m, packed.format,
                                                    packed.has_zero, native::active_isa());
      ASSERT_NE(path, native::Path::kDequantized) << "a Linear never decodes whole";
      at::Tensor tol;
      if (path == native::Path::kFloat) {
        tol = float_tolerance(at::matmul(x.abs(), B.t()), want, k);
        ++float_checked;
      } else {
        const at::Tensor xe = int8_activation_error(q, x);
        tol = float_tolerance(at::matmul(x.abs() + xe, B.t()), want, k) +
              at::matmul(xe, B.t()) * (1 + std::ldexp(1.0, -10));
        ++int8_checked;
      }
      EXPECT_EQ(count_outside(got, want, tol), 0)
          << c.name << " m=" << m << " n=" << n << " k=" << k << " path " << native::to_string(path)
          << ": max |diff| " << (got - want).abs().max().item<float>() << ", tolerance there "
          << tol.flatten()[(got - want).abs().flatten().argmax()].item<float>();
    }
  EXPECT_GT(float_checked, 0);
  EXPECT_GT(int8_checked, 0);
}

TEST(NativeLayer, LinearKeepsLeadingDimensions) {
  at::manual_seed(kSeed + 1);
  const at::Tensor w = at::randn({9, 40}), x = at::randn({2, 5, 40});
  const QuantizedWeight q = QuantizedWeight::from_float(w, int_spec(4, Scheme::kSym, 32));
  const LayerKernelPtr native = make_native_kernel(LayerKind::kLinear, q, std::nullopt, {});
  const at::Tensor y = native->forward(x);
  ASSERT_EQ(y.sizes(), at::IntArrayRef({2, 5, 9}));
  EXPECT_TRUE(at::equal(y.reshape({10, 9}), native->forward(x.reshape({10, 40}))));
}

struct ConvCase {
  int64_t batch, in, out, h, w, kh, kw;
  ConvGeometry g;
};

ConvGeometry geometry(std::vector<int64_t> stride, std::vector<int64_t> padding,
                      std::vector<int64_t> dilation, int64_t groups) {
  ConvGeometry g;
  g.stride = std::move(stride);
  g.padding = std::move(padding);
  g.dilation = std::move(dilation);
  g.groups = groups;
  return g;
}

TEST(NativeLayer, Conv2dMatchesEager) {
  at::manual_seed(kSeed + 2);
  int64_t float_checked = 0, dequantized_checked = 0;
  const std::vector<ConvCase> convs{
      {2, 3, 7, 9, 9, 3, 3, geometry({1, 1}, {0, 0}, {1, 1}, 1)},
      {1, 5, 9, 11, 10, 3, 3, geometry({2, 1}, {1, 0}, {1, 2}, 1)},
      {2, 4, 6, 9, 9, 3, 3, geometry({2, 2}, {1, 1}, {1, 1}, 2)},
      {3, 16, 33, 5, 5, 1, 1, geometry({1, 1}, {0, 0}, {1, 1}, 1)},
      {2, 6, 10, 12, 12, 3, 3, geometry({1, 1}, {1, 1}, {1, 1}, 2)},
  };
  const std::vector<Case> specs{
      {"int4 sym g32", int_spec(4, Scheme::kSym, 32)},
      {"int3 asym g5", int_spec(3, Scheme::kAsym, 5)},
      {"int2 sym per-channel", int_spec(2, Scheme::kSym, -1)},
      {"int8 asym g16", int_spec(8, Scheme::kAsym, 16)},
      {"nf4 g32", table_spec(DType::kNf4, 32)},
      {"int4 float zero g16", int_spec(4, Scheme::kAsym, 16, true)},
  };
  for (const ConvCase& cc : convs)
    for (const Case& c : specs) {
      const at::Tensor w = at::randn({cc.out, cc.in / cc.g.groups, cc.kh, cc.kw});
      const at::Tensor bias = at::randn({cc.out}), x = at::randn({cc.batch, cc.in, cc.h, cc.w});
      const QuantizedWeight q = QuantizedWeight::from_float(w, c.spec);
      const LayerKernelPtr eager =
          backend_by_name("eager").make_kernel(LayerKind::kConv2d, q, bias, cc.g);
      const LayerKernelPtr native = make_native_kernel(LayerKind::kConv2d, q, bias, cc.g);
      const at::Tensor want = eager->forward(x), got = native->forward(x);
      ASSERT_EQ(got.sizes(), want.sizes()) << c.name;
      ASSERT_GT(want.abs().sum().item<double>(), 0.0);
      // Every output pixel is one GEMM row: these shapes have more than the
      // int8-activation path's M (both other paths take the float tolerance;
      // SmallConv2dOutputsTakeInt8ActivationsAndMatchEager covers that path).
      const native::PackedWeight packed = native::repack(q);
      const native::Path path =
          native::choose_path(LayerKind::kConv2d, want.size(0) * want.size(2) * want.size(3),
                              packed.format, packed.has_zero, native::active_isa());
      ASSERT_NE(path, native::Path::kInt8Activations);
      ++(path == native::Path::kFloat ? float_checked : dequantized_checked);
      const at::Tensor B = weight_magnitude(q).reshape(w.sizes());
      const at::Tensor abs_product =
          at::conv2d(x.abs(), B, {}, cc.g.stride, cc.g.padding, cc.g.dilation, cc.g.groups);
      const at::Tensor tol = float_tolerance(abs_product, want, q.cols());
      EXPECT_EQ(count_outside(got, want, tol), 0)
          << c.name << " conv " << cc.in << "->" << cc.out << " groups " << cc.g.groups
          << ": max |diff| " << (got - want).abs().max().item<float>();
    }
  EXPECT_GT(float_checked, 0);
  EXPECT_GT(dequantized_checked, 0);
}

/// A convolution's GEMM operands, laid out as output pixels (N x OH x OW rows)
/// by output channels: the activation rows of each group ([M, Cg * kh * kw],
/// at::im2col's column order c, i, j, the weight's flattening) and the
/// conversion of an [N, O, OH, OW] output to [M, O].
struct ConvRows {
  std::vector<at::Tensor> x;  ///< per group, contiguous [M, Kg]
  at::Tensor as_rows(const at::Tensor& y) const {
    return y.permute({0, 2, 3, 1}).reshape({-1, y.size(1)});
  }
};

ConvRows conv_rows(const at::Tensor& x, const ConvCase& cc) {
  const at::Tensor cols =
      at::im2col(x, {cc.kh, cc.kw}, cc.g.dilation, cc.g.padding, cc.g.stride);  // [N, CK, L]
  const at::Tensor rows = cols.transpose(1, 2).reshape({-1, cols.size(1)});
  const int64_t kg = cols.size(1) / cc.g.groups;
  ConvRows r;
  for (int64_t g = 0; g < cc.g.groups; ++g) r.x.push_back(rows.narrow(1, g * kg, kg).contiguous());
  return r;
}

// Convolutions with at most 32 output pixels (batch x OH x OW) take the
// int8-activation path; these straddle that bound (M = 1, 9, 27, 31, 32, 33)
// with K below, across and above a block of 32 and groups. Against eager
// within the int8-activation bound README states (each activation moves by at
// most absmax(block) / 254) or, past M = 32 and for tables, the fma bound; and
// against the reference twin's kernels on the same im2col rows: bit for bit
// when the reference is the active ISA, else up to fp32 summation order.
TEST(NativeLayer, SmallConv2dOutputsTakeInt8ActivationsAndMatchEager) {
  at::manual_seed(kSeed + 5);
  int64_t int8_checked = 0, float_checked = 0;
  const std::vector<ConvCase> convs{
      {1, 5, 9, 3, 3, 3, 3, geometry({1, 1}, {0, 0}, {1, 1}, 1)},     // M = 1, K = 45
      {1, 4, 7, 5, 5, 3, 3, geometry({1, 1}, {0, 0}, {1, 1}, 1)},     // M = 9, K = 36
      {3, 6, 10, 5, 5, 3, 3, geometry({1, 1}, {0, 0}, {1, 1}, 2)},    // M = 27, K = 27 per group
      {1, 16, 33, 1, 31, 1, 1, geometry({1, 1}, {0, 0}, {1, 1}, 1)},  // M = 31, K = 16
      {2, 8, 9, 8, 8, 3, 3, geometry({2, 2}, {1, 1}, {1, 1}, 1)},     // M = 32, K = 72
      {3, 8, 6, 3, 15, 3, 3, geometry({1, 1}, {0, 0}, {1, 2}, 1)},    // M = 33, K = 72
  };
  const std::vector<Case> specs{
      {"int4 sym g32", int_spec(4, Scheme::kSym, 32)},
      {"int3 asym g5", int_spec(3, Scheme::kAsym, 5)},
      {"int2 sym per-channel", int_spec(2, Scheme::kSym, -1)},
      {"int8 asym g16", int_spec(8, Scheme::kAsym, 16)},
      {"int4 float zero g16", int_spec(4, Scheme::kAsym, 16, true)},
      {"int4 asym g32 double quant", double_quant(int_spec(4, Scheme::kAsym, 32))},
      {"nf4 g32", table_spec(DType::kNf4, 32)},
  };
  const native::Isa isa = native::active_isa();
  native::PreparedActivations prepared;
  for (const ConvCase& cc : convs)
    for (const Case& c : specs) {
      const at::Tensor w = at::randn({cc.out, cc.in / cc.g.groups, cc.kh, cc.kw});
      const at::Tensor bias = at::randn({cc.out}), x = at::randn({cc.batch, cc.in, cc.h, cc.w});
      const QuantizedWeight q = QuantizedWeight::from_float(w, c.spec);
      const native::PackedWeight packed = native::repack(q);
      const LayerKernelPtr eager =
          backend_by_name("eager").make_kernel(LayerKind::kConv2d, q, bias, cc.g);
      const LayerKernelPtr native = make_native_kernel(LayerKind::kConv2d, q, bias, cc.g);
      const at::Tensor y_eager = eager->forward(x), y_native = native->forward(x);
      ASSERT_EQ(y_native.sizes(), y_eager.sizes()) << c.name;
      const ConvRows rows = conv_rows(x, cc);
      const at::Tensor want = rows.as_rows(y_eager), got = rows.as_rows(y_native);
      const int64_t M = want.size(0), O = cc.out, Og = O / cc.g.groups, K = q.cols();
      ASSERT_GT(want.abs().sum().item<double>(), 0.0) << "all-zero outputs prove nothing";
      const native::Path path =
          native::choose_path(LayerKind::kConv2d, M, packed.format, packed.has_zero, isa);
      const bool integer_codes = c.spec.dtype == DType::kInt;
      ASSERT_EQ(path,
                M <= 32 && integer_codes ? native::Path::kInt8Activations : native::Path::kFloat)
          << c.name << " M=" << M;
      const std::string where = c.name + " M=" + std::to_string(M) + " K=" + std::to_string(K) +
                                " groups " + std::to_string(cc.g.groups) + " path " +
                                native::to_string(path);
      const at::Tensor B = weight_magnitude(q);  // [O, K]
      at::Tensor tol = at::empty({M, O}), twin_tol = at::empty({M, O});
      at::Tensor twin = at::full({M, O}, std::nanf(""));
      const native::IsaKernels& ref = native::kernels_for(native::Isa::kRef);
      for (int64_t g = 0; g < cc.g.groups; ++g) {
        const at::Tensor xg = rows.x[g], Bg = B.narrow(0, g * Og, Og);
        const at::Tensor xe = path == native::Path::kInt8Activations ? int8_activation_error(q, xg)
                                                                     : at::zeros_like(xg);
        const at::Tensor reach = at::matmul(xg.abs() + xe, Bg.t());
        tol.narrow(1, g * Og, Og)
            .copy_(float_tolerance(reach, want.narrow(1, g * Og, Og), K) +
                   at::matmul(xe, Bg.t()) * (1 + std::ldexp(1.0, -10)));
        // Both sides sum the same block terms in their own fp32 order.
        twin_tol.narrow(1, g * Og, Og).copy_(reach * (4.0 * (packed.blocks + 36) * kU) + 1e-30);
        ref.prepare(packed, xg.data_ptr<float>(), M, K, path, &prepared);
        ref.gemm_rows(packed, prepared, path, bias.data_ptr<float>(), twin.data_ptr<float>(), O,
                      g * Og, (g + 1) * Og);
      }
      EXPECT_EQ(count_outside(got, want, tol), 0)
          << where << ": max |diff| from eager " << (got - want).abs().max().item<float>();
      if (isa == native::Isa::kRef)
        EXPECT_TRUE(at::equal(got, twin)) << where;
      else
        EXPECT_EQ(count_outside(got, twin, twin_tol), 0)
            << where << ": max |diff| from the reference twin "
            << (got - twin).abs().max().item<float>();
      ++(path == native::Path::kInt8Activations ? int8_checked : float_checked);
    }
  EXPECT_GT(int8_checked, 0);
  EXPECT_GT(float_checked, 0);
}

/// forward(x) with `threads` intra-op threads.
at::Tensor forward_with_threads(const LayerKernel& k, const at::Tensor& x, int threads) {
  at::set_num_threads(threads);
  return k.forward(x);
}

TEST(NativeLayer, ResultDoesNotDependOnThreadCount) {
  at::manual_seed(kSeed + 3);
  const int before = at::get_num_threads();
  const at::Tensor w = at::randn({300, 300}), bias = at::randn({300});
  for (const Case& c : {cases()[0], cases()[10], cases()[13]}) {
    const QuantizedWeight q = QuantizedWeight::from_float(w, c.spec);
    const LayerKernelPtr native = make_native_kernel(LayerKind::kLinear, q, bias, {});
    for (int64_t m : {1, 4, 20, 140, 300}) {
      const at::Tensor x = at::randn({m, 300});
      const at::Tensor one = forward_with_threads(*native, x, 1);
      ASSERT_GT(one.abs().sum().item<double>(), 0.0);
      for (int threads : {2, 3})
        EXPECT_TRUE(at::equal(one, forward_with_threads(*native, x, threads)))
            << c.name << " m=" << m << " threads=" << threads;
    }
  }
  const at::Tensor cw = at::randn({70, 8, 3, 3}), cx = at::randn({2, 8, 10, 10});
  const LayerKernelPtr conv = make_native_kernel(
      LayerKind::kConv2d, QuantizedWeight::from_float(cw, int_spec(4, Scheme::kAsym, 32)),
      std::nullopt, geometry({1, 1}, {1, 1}, {1, 1}, 1));
  const at::Tensor one = forward_with_threads(*conv, cx, 1);
  for (int threads : {2, 3})
    EXPECT_TRUE(at::equal(one, forward_with_threads(*conv, cx, threads))) << "conv " << threads;
  at::set_num_threads(before);
}

// A convolution on kDequantized decodes its weights into a buffer that every
// call and every layer on the thread reuses: the result is at::conv2d on the
// decoded weights bit for bit, whichever layer (larger or smaller) used the
// buffer before.
TEST(NativeLayer, DequantizedConv2dIsTheConvolutionOfItsDecodedWeights) {
  at::manual_seed(kSeed + 7);
  const native::Isa isa = native::active_isa();
  const std::vector<ConvCase> convs{
      {2, 8, 70, 12, 12, 3, 3, geometry({1, 1}, {1, 1}, {1, 1}, 1)},   // 70 x 72 weights
      {3, 6, 9, 10, 10, 1, 1, geometry({1, 1}, {0, 0}, {1, 1}, 1)},    // 9 x 6
      {2, 12, 18, 17, 17, 3, 3, geometry({1, 1}, {1, 1}, {1, 1}, 3)},  // 18 x 36, 3 groups
  };
  const std::vector<Case> specs{{"int4 asym g32", int_spec(4, Scheme::kAsym, 32)},
                                {"nf4 g64", table_spec(DType::kNf4, 64)}};
  std::vector<LayerKernelPtr> layers;
  std::vector<at::Tensor> inputs, want;
  std::vector<std::string> names;
  for (const ConvCase& cc : convs)
    for (const Case& c : specs) {
      const at::Tensor w = at::randn({cc.out, cc.in / cc.g.groups, cc.kh, cc.kw});
      const at::Tensor bias = at::randn({cc.out}), x = at::randn({cc.batch, cc.in, cc.h, cc.w});
      const QuantizedWeight q = QuantizedWeight::from_float(w, c.spec);
      const native::PackedWeight packed = native::repack(q);
      ASSERT_EQ(native::choose_path(LayerKind::kConv2d, cc.batch * cc.h * cc.w, packed.format,
                                    packed.has_zero, isa),
                native::Path::kDequantized);
      at::Tensor decoded = at::full({packed.rows, packed.cols}, std::nanf(""));
      native::kernels_for(isa).decode_rows(packed, 0, packed.rows, decoded.data_ptr<float>());
      want.push_back(at::conv2d(x, decoded.view(w.sizes()), bias, cc.g.stride, cc.g.padding,
                                cc.g.dilation, cc.g.groups));
      ASSERT_GT(want.back().abs().sum().item<double>(), 0.0);
      layers.push_back(make_native_kernel(LayerKind::kConv2d, q, bias, cc.g));
      inputs.push_back(x);
      names.push_back(c.name + " conv " + std::to_string(cc.out) + " x " +
                      std::to_string(q.cols()));
    }
  for (int round = 0; round < 2; ++round)
    for (size_t i = 0; i < layers.size(); ++i)
      EXPECT_TRUE(at::equal(layers[i]->forward(inputs[i]), want[i]))
          << names[i] << " round " << round;
}

TEST(NativeLayer, StoredFormIsEagersBitExactly) {
  at::manual_seed(kSeed + 4);
  for (const Case& c : cases()) {
    const at::Tensor w = at::randn({19, 150}), bias = at::randn({19});
    const QuantizedWeight q = quantize(w, c.spec, c.g_idx);
    const LayerKernelPtr eager =
        backend_by_name("eager").make_kernel(LayerKind::kLinear, q, bias, {});
    const LayerKernelPtr native = make_native_kernel(LayerKind::kLinear, q, bias, {});
    EXPECT_EQ(native->storage_bytes(), eager->storage_bytes()) << c.name;
    const auto want = eager->tensors();
    const auto got = native->tensors();
    ASSERT_EQ(got.size(), want.size()) << c.name;
    for (const auto& [name, t] : want) {
      ASSERT_TRUE(got.count(name)) << c.name << ": missing " << name;
      EXPECT_TRUE(at::equal(got.at(name), t)) << c.name << ": " << name;
    }
    const QuantizedWeight* back = native->quantized_weight();
    ASSERT_NE(back, nullptr);
    EXPECT_TRUE(at::equal(back->packed, q.packed)) << c.name;
    EXPECT_TRUE(at::equal(back->scale, q.scale)) << c.name;
    EXPECT_EQ(back->shape, q.shape);
  }
}

TEST(NativeLayer, AutoChoosesNativeForWeightOnlyLayers) {
  std::string reason;
  const QuantSpec s = int_spec(4, Scheme::kSym, 32);
  EXPECT_EQ(choose_backend("auto", LayerKind::kLinear, s, &reason).name, "native");
  EXPECT_EQ(reason, "auto");
  EXPECT_EQ(choose_backend("auto", LayerKind::kConv2d, s, &reason).name, "native");
  QuantSpec by_output = s;
  by_output.group_dim = 0;
  EXPECT_EQ(choose_backend("auto", LayerKind::kLinear, by_output, &reason).name, "eager");
  EXPECT_NE(reason.find("native: "), std::string::npos) << reason;
  const LayerKernelPtr k = make_native_kernel(
      LayerKind::kLinear, QuantizedWeight::from_float(at::randn({4, 32}), s), std::nullopt, {});
  const std::string detail = k->backend_detail();
  EXPECT_EQ(detail.rfind("native:" + native::to_string(native::active_isa()) + "/", 0), 0u)
      << detail;
}

TEST(NativeLayer, SavedModelReloadsOntoNative) {
  testing::TempDir dir;
  ModelPtr model = testing::random_fmnist_cnn(kSeed);
  std::vector<LayerReport> reports;
  for (LayerSlot* slot : model->layers()) {
    const QuantSpec s =
        slot->name() == "fc2" ? int_spec(8, Scheme::kAsym, -1) : int_spec(4, Scheme::kAsym, 32);
    slot->set_kernel(backend_by_name("native").make_kernel(
        slot->kind(), QuantizedWeight::from_float(slot->weight(), s), slot->bias(),
        slot->geometry()));
    LayerReport r;
    r.name = slot->name();
    r.kind = to_string(slot->kind());
    r.quantized = true;
    r.params = Json{{"bits", s.bits}};
    r.backend = "native";
    r.backend_reason = "requested";
    reports.push_back(r);
  }
  QuantConfig config;
  config.algorithm = "rtn";
  config.backend = "native";
  save_model(*model, dir / "m", config, reports, Json::object());
  ModelPtr loaded = load_saved_model(dir / "m");
  at::manual_seed(kSeed);
  const at::Tensor x = at::rand({5, 1, 28, 28});
  const at::Tensor want = model->forward(x);
  ASSERT_GT(want.abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(at::equal(loaded->forward(x), want));
  for (const LayerSlot* slot : loaded->layers())
    EXPECT_EQ(slot->kernel()->backend(), "native") << slot->name();
}

}  // namespace
}  // namespace qtune
