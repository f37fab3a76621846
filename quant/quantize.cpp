#include "quant/quantize.h"

#include <limits>

#include "common/error.h"

namespace qtune {

namespace {

/// `w` (any shape, rows first) as float32 [rows, cols].
at::Tensor as_float_2d(const at::Tensor& w, const char* what) {
  QT_CHECK(w.defined() && w.dim() >= 2, what, ": expected a weight with >= 2 dims, got ",
           w.defined() ? w.dim() : 0, " dims");
  QT_CHECK(w.numel() > 0, what, ": expected a non-empty weight, got shape ", w.sizes());
  // detach: a trained weight may require grad; quantization is never differentiated here.
  return w.detach().reshape({w.size(0), -1}).to(at::kFloat);
}

/// [rows, cols] -> [rows, G, g] with the trailing partial group padded by `pad`.
/// Per-tensor and per-channel specs give G = 1, g = cols, so one code path
/// broadcasts [rows|1, G] params over every granularity.
at::Tensor grouped(const at::Tensor& x, const QuantSpec& spec, double pad) {
  const int64_t cols = x.size(1);
  const int64_t g = spec.effective_group_size(cols);
  const int64_t n_groups = spec.groups_per_row(cols);
  at::Tensor padded = x;
  if (n_groups * g != cols) padded = at::constant_pad_nd(x, {0, n_groups * g - cols}, pad);
  return padded.reshape({x.size(0), n_groups, g});
}

/// Inverse of grouped(): [rows, G, g] -> [rows, cols].
at::Tensor ungrouped(const at::Tensor& x, int64_t cols) {
  return x.reshape({x.size(0), -1}).narrow(1, 0, cols).contiguous();
}

void check_params(const QuantParams& p, const at::Tensor& x, const QuantSpec& spec) {
  const int64_t rows = spec.granularity == Granularity::kPerTensor ? 1 : x.size(0);
  const int64_t groups = spec.groups_per_row(x.size(1));
  QT_CHECK(p.scale.defined() && p.scale.dim() == 2 && p.scale.size(0) == rows &&
               p.scale.size(1) == groups,
           "quantization scale: expected shape [", rows, ", ", groups, "], got ",
           p.scale.defined() ? p.scale.sizes() : at::IntArrayRef{});
  QT_CHECK(p.zero.defined() && p.zero.sizes() == p.scale.sizes() &&
               (p.zero.scalar_type() == at::kFloat) == spec.float_zero,
           "quantization zero point: expected shape ", p.scale.sizes(), ", got ",
           p.zero.defined() ? p.zero.sizes() : at::IntArrayRef{}, " (",
           spec.float_zero ? "float32" : "int32", " expected)");
}

/// Midpoints between neighbouring table values: the rounding boundaries.
at::Tensor table_midpoints(DType d) {
  const std::vector<float>& t = dtype_table(d);
  std::vector<float> mids(t.size() - 1);
  for (size_t i = 0; i + 1 < t.size(); ++i) mids[i] = (t[i] + t[i + 1]) / 2;
  return at::tensor(mids);
}

at::Tensor table_tensor(DType d) { return at::tensor(dtype_table(d)); }

}  // namespace

at::Tensor quant_matrix(const at::Tensor& w, const QuantSpec& spec) {
  const at::Tensor m = as_float_2d(w, "quantize");
  return spec.group_dim == 0 ? m.t().contiguous() : m.contiguous();
}

at::Tensor from_quant_matrix(const at::Tensor& m, const QuantSpec& spec, at::IntArrayRef shape) {
  return (spec.group_dim == 0 ? m.t().contiguous() : m).reshape(shape);
}

QuantParams compute_params(const at::Tensor& weight, const QuantSpec& spec) {
  spec.validate();
  const at::Tensor w = as_float_2d(weight, "compute_params");
  const double inf = std::numeric_limits<double>::infinity();
  // Padding with -inf/+inf keeps a partial group's max/min its own (a 0 pad
  // would change which side dominates in the sym full_range sign flip).
  at::Tensor mx, mn;
  if (spec.granularity == Granularity::kPerTensor) {
    mx = w.max().reshape({1, 1});
    mn = w.min().reshape({1, 1});
  } else {
    mx = std::get<0>(grouped(w, spec, -inf).max(-1));
    mn = std::get<0>(grouped(w, spec, inf).min(-1));
  }

  QuantParams p;
  if (spec.dtype != DType::kInt) {
    const std::vector<float>& table = dtype_table(spec.dtype);
    const at::Tensor amax = at::maximum(mx.abs(), mn.abs()) * spec.clip_ratio;
    p.scale = at::where(amax == 0, at::ones_like(amax), amax / static_cast<double>(table.back()));
    p.zero = at::zeros(p.scale.sizes(), at::kInt);
  } else if (spec.scheme == Scheme::kSym) {
    const at::Tensor amax = at::maximum(mx.abs(), mn.abs()) * spec.clip_ratio;
    at::Tensor scale;
    // 1-bit sym has qmax = 0, so only the full-range form (codes {-1, 0}) is defined.
    if (spec.full_range || spec.bits == 1) {
      // INC: the extreme of larger magnitude maps to qmin = -2^(b-1) exactly;
      // when that extreme is positive the scale is negative. INC flips only
      // when |max| > |min|, which maps a group of equal positive values (a
      // one-element trailing group) to 7/8 of itself; flipping on a tie
      // whenever max > 0 keeps such groups exact and changes nothing else.
      scale = amax / static_cast<double>(-spec.qmin());
      scale = at::where((mx > 0) & (mx.abs() >= mn.abs()), -scale, scale);
    } else if (spec.sym_grid == SymGrid::kGptq) {
      // INC's GPTQ computes (xmax - xmin) / (2^b-1) with xmin = -xmax; 2a is
      // that difference exactly, so w / scale and its ties round as in INC.
      // (INC leaves xmin = 0 for a group without negative values, which halves
      // its scale and clamps its upper half; that group gets 2a here too.)
      scale = amax * 2.0 / static_cast<double>((int64_t{1} << spec.bits) - 1);
    } else {
      scale = amax / static_cast<double>(spec.qmax());
    }
    p.scale = at::where(amax == 0, at::ones_like(scale), scale);
    p.zero = at::zeros(p.scale.sizes(), at::kInt);
  } else {
    // The range always contains 0 so that 0 is exactly representable.
    const at::Tensor lo = at::clamp_max(mn, 0) * spec.clip_ratio;
    const at::Tensor hi = at::clamp_min(mx, 0) * spec.clip_ratio;
    const at::Tensor range = hi - lo;
    p.scale = at::where(range == 0, at::ones_like(range), range / static_cast<double>(spec.qmax()));
    p.zero = at::clamp(at::round(-lo / p.scale), 0, spec.qmax());
    p.zero = spec.float_zero ? p.zero.to(at::kFloat) : p.zero.to(at::kInt);
  }
  p.scale = p.scale.contiguous();
  p.zero = p.zero.contiguous();
  return p;
}

at::Tensor quantize_codes(const at::Tensor& weight, const QuantParams& p, const QuantSpec& spec) {
  spec.validate();
  const at::Tensor w = as_float_2d(weight, "quantize_codes");
  check_params(p, w, spec);
  // Division (not multiplication by 1/scale) as INC does, so ties round alike.
  // In-place after the first op: each pass over a large weight costs an allocation otherwise.
  at::Tensor q = grouped(w, spec, 0.0) / p.scale.unsqueeze(-1);
  if (spec.dtype != DType::kInt) {
    // bucketize(right=false) gives i with mids[i-1] < v <= mids[i]: INC's tie rule.
    return ungrouped(at::bucketize(q, table_midpoints(spec.dtype), /*out_int32=*/true), w.size(1));
  }
  if (spec.float_zero) {
    // HQQ rounds after adding its fractional zero point.
    q.add_(p.zero.unsqueeze(-1));
    q.round_();
  } else {
    q.round_();
    if (spec.scheme == Scheme::kAsym) q.add_(p.zero.unsqueeze(-1));
  }
  q.clamp_(static_cast<double>(spec.qmin()), static_cast<double>(spec.qmax()));
  return ungrouped(q, w.size(1)).to(at::kInt);
}

at::Tensor dequantize_codes(const at::Tensor& codes, const QuantParams& p, const QuantSpec& spec) {
  QT_CHECK(codes.defined() && codes.dim() == 2, "dequantize_codes: expected 2-D codes");
  check_params(p, codes, spec);
  at::Tensor q;
  if (spec.dtype != DType::kInt) {
    const at::Tensor idx = codes.to(at::kLong).clamp(0, spec.qmax()).reshape({-1});
    q = grouped(table_tensor(spec.dtype).index_select(0, idx).reshape(codes.sizes()), spec, 0.0);
  } else {
    q = grouped(codes.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true), spec, 0.0);
  }
  if (spec.scheme == Scheme::kAsym) q.sub_(p.zero.unsqueeze(-1));
  q.mul_(p.scale.unsqueeze(-1));
  return ungrouped(q, codes.size(1));
}

at::Tensor fake_quantize(const at::Tensor& w, const QuantSpec& spec) {
  const at::Tensor m = quant_matrix(w, spec);
  const QuantParams p = compute_params(m, spec);
  return from_quant_matrix(dequantize_codes(quantize_codes(m, p, spec), p, spec), spec, w.sizes());
}

}  // namespace qtune
