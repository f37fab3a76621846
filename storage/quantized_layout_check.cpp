#include "storage/quantized_layout_check.h"

#include "common/error.h"
#include "quant/packing.h"

namespace qtune::storage_detail {

namespace {

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string describe(const at::Tensor& t) {
  return t.defined() ? std::string(c10::toString(t.scalar_type())) + " " + shape_str(t.sizes())
                     : std::string("nothing");
}

/// A compressed parameter tensor of `n` values stored as `pq` says.
void check_packed_params(const PackedParams& p, const ParamQuant& pq, int64_t n,
                         const std::string& where, const std::string& name) {
  const QuantSpec s = param_spec(pq);
  const int64_t per_word = values_per_word(pq.bits);
  const std::vector<int64_t> packed{1, (n + per_word - 1) / per_word};
  const std::vector<int64_t> params{1, s.groups_per_row(n)};
  QT_CHECK(p.packed.defined() && p.packed.scalar_type() == at::kInt &&
               p.packed.sizes() == at::IntArrayRef(packed),
           where, ": ", name, ": expected int32 ", shape_str(packed), ", got ", describe(p.packed));
  QT_CHECK(p.scale.defined() && p.scale.scalar_type() == at::kFloat &&
               p.scale.sizes() == at::IntArrayRef(params),
           where, ": ", name, "_scale: expected float32 ", shape_str(params), ", got ",
           describe(p.scale));
  if (pq.scheme == Scheme::kAsym) {
    QT_CHECK(p.zero.defined() && p.zero.scalar_type() == at::kInt &&
                 p.zero.sizes() == at::IntArrayRef(params),
             where, ": ", name, "_zero: expected int32 ", shape_str(params), ", got ",
             describe(p.zero));
  } else {
    QT_CHECK(!p.zero.defined(), where, ": ", name, "_zero present for sym parameters");
  }
}

}  // namespace

void check_quantized_layout(const QuantizedWeight& w, const std::string& where) {
  QT_CHECK(w.shape.size() >= 2, where, ": expected a weight shape with >= 2 dims, got ",
           shape_str(w.shape));
  for (int64_t d : w.shape)
    QT_CHECK(d > 0, where, ": weight shape ", shape_str(w.shape), " has a dimension < 1");
  const int64_t rows = w.matrix_rows(), cols = w.matrix_cols();
  const int64_t per_word = values_per_word(w.spec.bits);
  const std::vector<int64_t> packed{rows, (cols + per_word - 1) / per_word};
  QT_CHECK(w.packed.defined() && w.packed.scalar_type() == at::kInt &&
               w.packed.sizes() == at::IntArrayRef(packed),
           where, ": qweight: expected int32 ", shape_str(packed), " for ", w.spec.bits,
           "-bit codes of a ", shape_str(w.shape), " weight, got ",
           w.packed.defined() ? std::string(c10::toString(w.packed.scalar_type())) + " " +
                                    shape_str(w.packed.sizes())
                              : std::string("nothing"));
  const std::vector<int64_t> params{w.spec.granularity == Granularity::kPerTensor ? 1 : rows,
                                    w.spec.groups_per_row(cols)};
  const int64_t n_params = params[0] * params[1];
  if (w.spec.scale_quant.enabled()) {
    check_packed_params(w.scale_q, w.spec.scale_quant, n_params, where, "scales_q");
  } else {
    QT_CHECK(w.scale.defined() && w.scale.scalar_type() == at::kFloat &&
                 w.scale.sizes() == at::IntArrayRef(params),
             where, ": scales: expected float32 ", shape_str(params), ", got ", describe(w.scale));
  }
  if (w.spec.scheme == Scheme::kAsym) {
    if (w.spec.zero_quant.enabled()) {
      check_packed_params(w.zero_q, w.spec.zero_quant, n_params, where, "qzeros_q");
    } else {
      const auto zt = w.spec.float_zero ? at::kFloat : at::kInt;
      QT_CHECK(w.zero.defined() && w.zero.scalar_type() == zt &&
                   w.zero.sizes() == at::IntArrayRef(params),
               where, ": qzeros: expected ", w.spec.float_zero ? "float32 " : "int32 ",
               shape_str(params), " for an asym layer, got ", describe(w.zero));
    }
  } else {
    QT_CHECK(!w.zero.defined() && !w.zero_q.defined(), where, ": qzeros present for a sym layer");
  }
  if (w.spec.has_g_idx) {
    QT_CHECK(w.g_idx.defined() && w.g_idx.scalar_type() == at::kInt && w.g_idx.dim() == 1 &&
                 w.g_idx.size(0) == cols,
             where, ": g_idx: expected int32 [", cols, "], got ", describe(w.g_idx));
    QT_CHECK(cols == 0 ||
                 (w.g_idx.min().item<int64_t>() >= 0 && w.g_idx.max().item<int64_t>() < params[1]),
             where, ": g_idx: values must be group indices in [0, ", params[1], ")");
  } else {
    QT_CHECK(!w.g_idx.defined(), where, ": g_idx present but the layer has no column groups");
  }
}

}  // namespace qtune::storage_detail
