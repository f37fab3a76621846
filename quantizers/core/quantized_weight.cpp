#include "quantizers/core/quantized_weight.h"

#include "common/error.h"
#include "quantizers/core/packing.h"

namespace qtune {

int64_t QuantizedWeight::rows() const {
  QT_ASSERT(!shape.empty());
  return shape[0];
}

int64_t QuantizedWeight::cols() const {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

QuantizedWeight QuantizedWeight::from_float(const at::Tensor& w, const QuantSpec& spec) {
  const QuantParams p = compute_params(w, spec);
  const at::Tensor w2 = w.reshape({w.size(0), -1});
  return from_codes(quantize_codes(w2, p, spec), p, spec, w.sizes().vec());
}

QuantizedWeight QuantizedWeight::from_codes(const at::Tensor& codes, const QuantParams& params,
                                            const QuantSpec& spec, std::vector<int64_t> shape) {
  spec.validate();
  QuantizedWeight q;
  q.spec = spec;
  q.shape = std::move(shape);
  QT_CHECK(q.shape.size() >= 2, "quantized weight: expected a shape with >= 2 dims, got ",
           q.shape.size());
  QT_CHECK(codes.dim() == 2 && codes.size(0) == q.rows() && codes.size(1) == q.cols(),
           "quantized weight: codes of shape ", codes.sizes(), " do not match weight shape ",
           at::IntArrayRef(q.shape));
  q.packed = pack_rows(to_unsigned(codes.to(at::kInt), spec), spec.bits);
  q.scale = params.scale.to(at::kFloat).contiguous();
  if (spec.scheme == Scheme::kAsym) q.zero = params.zero.to(at::kInt).contiguous();
  const int64_t param_rows = spec.granularity == Granularity::kPerTensor ? 1 : q.rows();
  const int64_t groups = spec.groups_per_row(q.cols());
  QT_CHECK(q.scale.dim() == 2 && q.scale.size(0) == param_rows && q.scale.size(1) == groups,
           "quantized weight: expected scale of shape [", param_rows, ", ", groups, "], got ",
           q.scale.sizes());
  QT_CHECK(!q.zero.defined() || q.zero.sizes() == q.scale.sizes(),
           "quantized weight: zero point shape ", q.zero.sizes(), " differs from scale shape ",
           q.scale.sizes());
  return q;
}

at::Tensor QuantizedWeight::dequantize() const {
  const at::Tensor codes = from_unsigned(unpack_rows(packed, spec.bits, cols()), spec);
  QuantParams p{scale, zero.defined() ? zero : at::zeros(scale.sizes(), at::kInt)};
  return dequantize_codes(codes, p, spec).reshape(shape);
}

int64_t QuantizedWeight::storage_bytes() const {
  int64_t bytes = packed.numel() * packed.element_size() + scale.numel() * scale.element_size();
  if (zero.defined()) bytes += zero.numel() * zero.element_size();
  return bytes;
}

}  // namespace qtune
