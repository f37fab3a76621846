#include "quant/quantized_weight.h"

#include "common/error.h"
#include "quant/packing.h"

namespace qtune {

namespace {

/// Compresses the parameters the spec says to store quantized; returns the
/// decoded values (what the layer computes with).
QuantParams compress(QuantParams p, const QuantSpec& spec, PackedParams* sq, PackedParams* zq) {
  if (spec.scale_quant.enabled()) {
    *sq = pack_params(p.scale, spec.scale_quant);
    p.scale = unpack_params(*sq, spec.scale_quant, p.scale.sizes()).contiguous();
  }
  if (spec.zero_quant.enabled()) {
    *zq = pack_params(p.zero, spec.zero_quant);
    p.zero = unpack_params(*zq, spec.zero_quant, p.zero.sizes()).contiguous();
  }
  return p;
}

QuantizedWeight assemble(const at::Tensor& codes, const QuantParams& params, const QuantSpec& spec,
                         std::vector<int64_t> shape, const at::Tensor& g_idx, PackedParams sq,
                         PackedParams zq) {
  spec.validate();
  QuantizedWeight q;
  q.spec = spec;
  q.shape = std::move(shape);
  QT_CHECK(q.shape.size() >= 2, "quantized weight: expected a shape with >= 2 dims, got ",
           q.shape.size());
  const int64_t R = q.matrix_rows(), C = q.matrix_cols();
  QT_CHECK(codes.dim() == 2 && codes.size(0) == R && codes.size(1) == C,
           "quantized weight: codes of shape ", codes.sizes(), " do not match weight shape ",
           at::IntArrayRef(q.shape), " (group_dim ", spec.group_dim, " expects [", R, ", ", C,
           "])");
  q.packed = pack_rows(to_unsigned(codes.to(at::kInt), spec), spec.bits);
  q.scale = params.scale.to(at::kFloat).contiguous();
  if (spec.scheme == Scheme::kAsym)
    q.zero = params.zero.to(spec.float_zero ? at::kFloat : at::kInt).contiguous();
  const int64_t param_rows = spec.granularity == Granularity::kPerTensor ? 1 : R;
  const int64_t groups = spec.groups_per_row(C);
  QT_CHECK(q.scale.dim() == 2 && q.scale.size(0) == param_rows && q.scale.size(1) == groups,
           "quantized weight: expected scale of shape [", param_rows, ", ", groups, "], got ",
           q.scale.sizes());
  QT_CHECK(!q.zero.defined() || q.zero.sizes() == q.scale.sizes(),
           "quantized weight: zero point shape ", q.zero.sizes(), " differs from scale shape ",
           q.scale.sizes());
  QT_CHECK(g_idx.defined() == spec.has_g_idx, "quantized weight: g_idx ",
           spec.has_g_idx ? "missing" : "given", " but spec.has_g_idx is ", spec.has_g_idx);
  if (g_idx.defined()) {
    q.g_idx = g_idx.to(at::kInt).contiguous();
    QT_CHECK(q.g_idx.dim() == 1 && q.g_idx.size(0) == C, "quantized weight: g_idx must be [", C,
             "], got ", q.g_idx.sizes());
    QT_CHECK(q.g_idx.min().item<int64_t>() >= 0 && q.g_idx.max().item<int64_t>() < groups,
             "quantized weight: g_idx values must be in [0, ", groups, ")");
  }
  q.scale_q = std::move(sq);
  q.zero_q = std::move(zq);
  return q;
}

}  // namespace

int64_t QuantizedWeight::rows() const {
  QT_ASSERT(!shape.empty());
  return shape[0];
}

int64_t QuantizedWeight::cols() const {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

int64_t QuantizedWeight::matrix_rows() const { return spec.group_dim == 0 ? cols() : rows(); }
int64_t QuantizedWeight::matrix_cols() const { return spec.group_dim == 0 ? rows() : cols(); }

QuantParams QuantizedWeight::compress_params(const QuantParams& p, const QuantSpec& spec,
                                             PackedParams* sq, PackedParams* zq) {
  return compress(p, spec, sq, zq);
}

QuantizedWeight QuantizedWeight::from_compressed(const at::Tensor& codes, const QuantParams& params,
                                                 const QuantSpec& spec, std::vector<int64_t> shape,
                                                 const at::Tensor& g_idx, PackedParams sq,
                                                 PackedParams zq) {
  QT_ASSERT(sq.defined() == spec.scale_quant.enabled() &&
            zq.defined() == spec.zero_quant.enabled());
  return assemble(codes, params, spec, std::move(shape), g_idx, std::move(sq), std::move(zq));
}

QuantizedWeight QuantizedWeight::from_float(const at::Tensor& w, const QuantSpec& spec) {
  spec.validate();
  const at::Tensor m = quant_matrix(w, spec);
  PackedParams sq, zq;
  const QuantParams p = compress(compute_params(m, spec), spec, &sq, &zq);
  // A scale that decodes to 0 zeroes its group whatever the codes; 1 keeps the division finite.
  QuantParams for_codes = p;
  if (spec.scale_quant.enabled())
    for_codes.scale = at::where(p.scale == 0, at::ones_like(p.scale), p.scale);
  return assemble(quantize_codes(m, for_codes, spec), p, spec, w.sizes().vec(), at::Tensor(),
                  std::move(sq), std::move(zq));
}

QuantizedWeight QuantizedWeight::from_codes(const at::Tensor& codes, const QuantParams& params,
                                            const QuantSpec& spec, std::vector<int64_t> shape,
                                            const at::Tensor& g_idx) {
  spec.validate();
  PackedParams sq, zq;
  const QuantParams p = compress(params, spec, &sq, &zq);
  return assemble(codes, p, spec, std::move(shape), g_idx, std::move(sq), std::move(zq));
}

at::Tensor QuantizedWeight::dequantize() const {
  const int64_t C = matrix_cols();
  const at::Tensor codes = from_unsigned(unpack_rows(packed, spec.bits, C), spec);
  const at::Tensor z = zero.defined() ? zero : at::zeros(scale.sizes(), at::kInt);
  at::Tensor m;
  if (spec.has_g_idx) {
    // Each column reads its own group's params: expand them to one per column.
    const at::Tensor idx = g_idx.to(at::kLong);
    QuantSpec per_column = spec;
    per_column.granularity = Granularity::kPerGroup;
    per_column.group_size = 1;
    m = dequantize_codes(codes, {scale.index_select(1, idx), z.index_select(1, idx)}, per_column);
  } else {
    m = dequantize_codes(codes, {scale, z}, spec);
  }
  return from_quant_matrix(m, spec, shape);
}

int64_t QuantizedWeight::storage_bytes() const {
  auto bytes = [](const at::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; };
  int64_t total = bytes(packed) + bytes(g_idx);
  total += spec.scale_quant.enabled() ? scale_q.storage_bytes() : bytes(scale);
  total += spec.zero_quant.enabled() ? zero_q.storage_bytes() : bytes(zero);
  return total;
}

std::map<std::string, at::Tensor> QuantizedWeight::tensors() const {
  std::map<std::string, at::Tensor> t;
  auto put = [&t](const char* name, const at::Tensor& v) {
    if (v.defined()) t[name] = v;
  };
  put("qweight", packed);
  if (spec.scale_quant.enabled()) {
    put("scales_q", scale_q.packed);
    put("scales_q_scale", scale_q.scale);
    put("scales_q_zero", scale_q.zero);
  } else {
    put("scales", scale);
  }
  if (spec.zero_quant.enabled()) {
    put("qzeros_q", zero_q.packed);
    put("qzeros_q_scale", zero_q.scale);
    put("qzeros_q_zero", zero_q.zero);
  } else {
    put("qzeros", zero);
  }
  put("g_idx", g_idx);
  return t;
}

const std::vector<std::string>& QuantizedWeight::tensor_suffixes() {
  static const std::vector<std::string> names = {
      "qweight", "scales",   "scales_q",       "scales_q_scale", "scales_q_zero",
      "qzeros",  "qzeros_q", "qzeros_q_scale", "qzeros_q_zero",  "g_idx"};
  return names;
}

void QuantizedWeight::set_tensors(const std::map<std::string, at::Tensor>& t) {
  auto get = [&t](const char* name) {
    auto it = t.find(name);
    return it == t.end() ? at::Tensor() : it->second;
  };
  packed = get("qweight");
  scale = get("scales");
  zero = get("qzeros");
  g_idx = get("g_idx");
  scale_q = PackedParams{get("scales_q"), get("scales_q_scale"), get("scales_q_zero")};
  zero_q = PackedParams{get("qzeros_q"), get("qzeros_q_scale"), get("qzeros_q_zero")};
}

void QuantizedWeight::decode_params() {
  const int64_t param_rows = spec.granularity == Granularity::kPerTensor ? 1 : matrix_rows();
  const std::vector<int64_t> sizes{param_rows, spec.groups_per_row(matrix_cols())};
  if (spec.scale_quant.enabled())
    scale = unpack_params(scale_q, spec.scale_quant, sizes).contiguous();
  if (spec.zero_quant.enabled()) zero = unpack_params(zero_q, spec.zero_quant, sizes).contiguous();
}

}  // namespace qtune
