#include "quant/param_quant.h"

#include "common/error.h"
#include "quant/packing.h"
#include "quant/quantize.h"

namespace qtune {

int64_t PackedParams::storage_bytes() const {
  int64_t bytes = 0;
  for (const at::Tensor* t : {&packed, &scale, &zero})
    if (t->defined()) bytes += t->numel() * t->element_size();
  return bytes;
}

QuantSpec param_spec(const ParamQuant& pq) {
  QuantSpec s;
  s.bits = pq.bits;
  s.scheme = pq.scheme;
  s.granularity = pq.group_size == -1 ? Granularity::kPerChannel : Granularity::kPerGroup;
  s.group_size = pq.group_size == -1 ? 1 : pq.group_size;
  return s;
}

PackedParams pack_params(const at::Tensor& values, const ParamQuant& pq) {
  QT_ASSERT(pq.enabled());
  const QuantSpec s = param_spec(pq);
  const at::Tensor v = values.detach().reshape({1, -1}).to(at::kFloat);
  const QuantParams p = compute_params(v, s);
  PackedParams out;
  out.packed = pack_rows(to_unsigned(quantize_codes(v, p, s), s), s.bits);
  out.scale = p.scale;
  if (s.scheme == Scheme::kAsym) out.zero = p.zero;
  return out;
}

at::Tensor unpack_params(const PackedParams& p, const ParamQuant& pq, at::IntArrayRef shape) {
  const QuantSpec s = param_spec(pq);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const at::Tensor codes = from_unsigned(unpack_rows(p.packed, s.bits, n), s);
  const QuantParams qp{p.scale, p.zero.defined() ? p.zero : at::zeros(p.scale.sizes(), at::kInt)};
  return dequantize_codes(codes, qp, s).reshape(shape);
}

}  // namespace qtune
