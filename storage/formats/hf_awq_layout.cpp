#include "storage/formats/hf_awq_layout.h"

#include <cmath>

#include "common/error.h"
#include "quant/packing.h"
#include "storage/formats/hf_tensor_check.h"

namespace qtune {

namespace {

constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

/// Column 8c + i of the interleaved matrix is column 8c + kOrder[i] of the codes.
at::Tensor interleave_index(int64_t cols, bool inverse) {
  std::vector<int64_t> idx(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; c += 8)
    for (int i = 0; i < 8; ++i) {
      if (inverse)
        idx[static_cast<size_t>(c + kOrder[i])] = c + i;
      else
        idx[static_cast<size_t>(c + i)] = c + kOrder[i];
    }
  return at::tensor(idx, at::kLong);
}

}  // namespace

at::Tensor awq_pack_words(const at::Tensor& codes) {
  QT_ASSERT(codes.dim() == 2 && codes.size(1) % 8 == 0);
  return pack_rows(codes.index_select(1, interleave_index(codes.size(1), false)), 4);
}

at::Tensor awq_unpack_words(const at::Tensor& words) {
  const int64_t cols = words.size(1) * 8;
  return unpack_rows(words.contiguous(), 4, cols).index_select(1, interleave_index(cols, true));
}

std::string awq_cannot_carry(const QuantSpec& spec, const std::vector<int64_t>& shape) {
  if (shape.size() != 2) return "a convolution weight: the format stores Linear layers";
  if (spec.dtype != DType::kInt)
    return "dtype " + to_string(spec.dtype) + ": the format stores integer codes";
  if (spec.bits != 4) return "bits " + std::to_string(spec.bits) + ": the format packs 4 bits";
  if (spec.scale_quant.enabled())
    return "double-quantized scales: the format stores the scales as fp16";
  if (spec.float_zero || spec.zero_quant.enabled())
    return "float zero point (HQQ): the format stores integer zero points";
  if (spec.group_dim != 1)
    return "group_dim " + std::to_string(spec.group_dim) +
           ": the format groups along the input channels (group_dim 1)";
  if (spec.granularity != Granularity::kPerGroup)
    return std::string(spec.granularity == Granularity::kPerTensor ? "per-tensor" : "per-channel") +
           " scales: the format needs a group size";
  if (spec.has_g_idx) return "act_order (g_idx): the format has no g_idx (groups in order)";
  const int64_t out = shape[0], in = shape[1];
  if (in % spec.group_size != 0)
    return "in_features " + std::to_string(in) + " with group_size " +
           std::to_string(spec.group_size) + ": the format needs whole groups";
  if (out % 8 != 0)
    return "out_features " + std::to_string(out) + ": the format packs 8 outputs per word";
  return "";
}

AwqTensors awq_pack(const QuantizedWeight& w, const std::string& layer) {
  const std::string why = awq_cannot_carry(w.spec, w.shape);
  QT_CHECK(why.empty(), "layer '", layer, "': ", why);
  const int64_t out = w.shape[0], in = w.shape[1], G = w.scale.size(1);
  const at::Tensor codes = unpack_rows(w.packed, 4, in);  // [out, in], sym already shifted by 8
  const at::Tensor zero =
      w.spec.scheme == Scheme::kSym ? at::full({out, G}, 8, at::kInt) : w.zero.to(at::kInt);
  const int64_t zmin = zero.min().item<int64_t>(), zmax = zero.max().item<int64_t>();
  QT_CHECK(zmin >= 0 && zmax <= 15, "layer '", layer, "': zero points in [", zmin, ", ", zmax,
           "]: the format stores 4-bit zero points in [0, 15]");
  const at::Tensor scale = w.scale.to(at::kFloat);
  const double absmax = scale.abs().max().item<double>();
  QT_CHECK(std::isfinite(absmax) && absmax <= 65504.0, "layer '", layer, "': scale ", absmax,
           " does not fit the format's fp16 scales (max 65504)");
  AwqTensors t;
  t.qweight = awq_pack_words(codes.t().contiguous());
  t.qzeros = awq_pack_words(zero.t().contiguous());
  t.scales = scale.t().contiguous().to(at::kHalf);
  return t;
}

QuantizedWeight awq_unpack(const AwqTensors& t, int64_t group_size, int64_t out, int64_t in,
                           const std::string& where, const std::string& layer) {
  QT_CHECK(in % group_size == 0 && out % 8 == 0, where, ": layer '", layer, "' [", out, ", ", in,
           "] cannot be stored with group_size ", group_size,
           " (in_features must be a multiple of it, out_features of 8)");
  const int64_t G = in / group_size;
  const std::string geometry = "4-bit, group_size " + std::to_string(group_size) + ", layer [" +
                               std::to_string(out) + ", " + std::to_string(in) + "]";
  check_hf_tensor(t.qweight, HfTensorKind::kInt32, {in, out / 8}, where, layer + ".qweight",
                  geometry);
  check_hf_tensor(t.qzeros, HfTensorKind::kInt32, {G, out / 8}, where, layer + ".qzeros", geometry);
  check_hf_tensor(t.scales, HfTensorKind::kFloat, {G, out}, where, layer + ".scales", geometry);
  const at::Tensor codes = awq_unpack_words(t.qweight).t().contiguous();  // [out, in]
  const at::Tensor zero = awq_unpack_words(t.qzeros).t().contiguous();    // [out, G]
  const at::Tensor scale = t.scales.to(at::kFloat).t().contiguous();
  QT_CHECK(at::isfinite(scale).all().item<bool>(), where, ": tensor '", layer,
           ".scales' holds a NaN or infinite scale");
  QuantSpec spec;
  spec.bits = 4;
  spec.scheme = (zero == 8).all().item<bool>() ? Scheme::kSym : Scheme::kAsym;
  spec.granularity = Granularity::kPerGroup;
  spec.group_size = group_size;
  const bool sym = spec.scheme == Scheme::kSym;
  return QuantizedWeight::from_codes(sym ? codes - 8 : codes,
                                     {scale, sym ? at::zeros_like(zero) : zero}, spec, {out, in});
}

}  // namespace qtune
