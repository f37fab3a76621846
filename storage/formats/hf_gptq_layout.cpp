#include "storage/formats/hf_gptq_layout.h"

#include <cmath>

#include "common/error.h"
#include "quant/packing.h"
#include "storage/formats/hf_tensor_check.h"

namespace qtune {

namespace {}  // namespace

at::Tensor gptq_pack_stream(const at::Tensor& codes, int bits) {
  QT_ASSERT(codes.dim() == 2 && codes.size(1) * bits % 32 == 0);
  const at::Tensor c = codes.to(at::kInt).contiguous();
  const int64_t rows = c.size(0), len = c.size(1), words = len * bits / 32;
  at::Tensor out = at::zeros({rows, words}, at::kInt);
  const int32_t* src = c.data_ptr<int32_t>();
  auto* dst = reinterpret_cast<uint32_t*>(out.data_ptr<int32_t>());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < len; ++j) {
      const auto v = static_cast<uint32_t>(src[r * len + j]);
      QT_ASSERT(v < (1u << bits));
      const int64_t bit = j * bits, w = bit / 32, off = bit % 32;
      dst[r * words + w] |= v << off;
      // A 3-bit value that starts in the top bits of a word continues in the next.
      if (off + bits > 32) dst[r * words + w + 1] |= v >> (32 - off);
    }
  }
  return out;
}

at::Tensor gptq_unpack_stream(const at::Tensor& words, int bits) {
  QT_ASSERT(words.dim() == 2 && words.scalar_type() == at::kInt);
  const at::Tensor w = words.contiguous();
  const int64_t rows = w.size(0), n_words = w.size(1), len = n_words * 32 / bits;
  at::Tensor out = at::empty({rows, len}, at::kInt);
  const auto* src = reinterpret_cast<const uint32_t*>(w.data_ptr<int32_t>());
  int32_t* dst = out.data_ptr<int32_t>();
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < len; ++j) {
      const int64_t bit = j * bits, wi = bit / 32, off = bit % 32;
      uint32_t v = src[r * n_words + wi] >> off;
      if (off + bits > 32) v |= src[r * n_words + wi + 1] << (32 - off);
      dst[r * len + j] = static_cast<int32_t>(v & mask);
    }
  }
  return out;
}

std::string gptq_cannot_carry(const QuantSpec& spec, const std::vector<int64_t>& shape) {
  if (shape.size() != 2) return "a convolution weight: the format stores Linear layers";
  if (spec.dtype != DType::kInt)
    return "dtype " + to_string(spec.dtype) + ": the format stores integer codes";
  if (spec.scale_quant.enabled())
    return "double-quantized scales: the format stores the scales as fp16";
  if (spec.float_zero || spec.zero_quant.enabled())
    return "float zero point (HQQ): the format stores integer zero points";
  if (spec.group_dim != 1)
    return "group_dim " + std::to_string(spec.group_dim) +
           ": the format groups along the input channels (group_dim 1)";
  if (!gptq_bits_supported(spec.bits))
    return "bits " + std::to_string(spec.bits) + ": the format packs 2, 3, 4 or 8 bits";
  if (spec.granularity == Granularity::kPerTensor)
    return "a per-tensor scale: the format has per-channel (group_size -1) or per-group scales";
  const int64_t out = shape[0], in = shape[1];
  if (in * spec.bits % 32 != 0)
    return "in_features " + std::to_string(in) + " at " + std::to_string(spec.bits) +
           " bits: qweight needs in_features * bits to be a multiple of 32";
  if (out * spec.bits % 32 != 0)
    return "out_features " + std::to_string(out) + " at " + std::to_string(spec.bits) +
           " bits: qzeros needs out_features * bits to be a multiple of 32";
  return "";
}

GptqLayerFormat gptq_layer_format(const QuantSpec& spec) {
  GptqLayerFormat f;
  f.bits = spec.bits;
  f.group_size = spec.granularity == Granularity::kPerChannel ? -1 : spec.group_size;
  f.desc_act = spec.has_g_idx;
  f.sym = spec.scheme == Scheme::kSym;
  return f;
}

GptqTensors gptq_pack(const QuantizedWeight& w, bool v1, const std::string& layer) {
  const std::string why = gptq_cannot_carry(w.spec, w.shape);
  QT_CHECK(why.empty(), "layer '", layer, "': ", why);
  const int bits = w.spec.bits;
  const int64_t out = w.shape[0], in = w.shape[1];
  const int64_t G = w.scale.size(1);
  // Stored codes are already what GPTQ stores: sym codes shifted by 2^(b-1).
  const at::Tensor codes = unpack_rows(w.packed, bits, in);  // [out, in]
  at::Tensor zero = w.spec.scheme == Scheme::kSym
                        ? at::full({out, G}, int64_t{1} << (bits - 1), at::kInt)
                        : w.zero.to(at::kInt);
  const int64_t zmin = zero.min().item<int64_t>(), zmax = zero.max().item<int64_t>();
  QT_CHECK(zmin >= 0 && zmax < (int64_t{1} << bits), "layer '", layer, "': zero points in [", zmin,
           ", ", zmax, "]: the format stores ", bits, "-bit zero points in [0, ",
           (int64_t{1} << bits) - 1, "]");
  if (v1) {
    QT_CHECK(zmin >= 1, "layer '", layer,
             "': asym zero point 0: gptq v1 stores zero - 1, which wraps to -1; export with "
             "checkpoint_format gptq_v2");
    zero = zero - 1;
  }
  const at::Tensor scale = w.scale.to(at::kFloat);
  const double absmax = scale.abs().max().item<double>();
  QT_CHECK(std::isfinite(absmax) && absmax <= 65504.0, "layer '", layer, "': scale ", absmax,
           " does not fit the format's fp16 scales (max 65504)");
  GptqTensors t;
  t.qweight = gptq_pack_stream(codes, bits).t().contiguous();
  t.qzeros = gptq_pack_stream(zero.t().contiguous(), bits);
  t.scales = scale.t().contiguous().to(at::kHalf);
  if (w.spec.has_g_idx) {
    t.g_idx = w.g_idx.to(at::kInt).contiguous();
  } else {
    const int64_t g = w.spec.effective_group_size(in);
    t.g_idx = at::div(at::arange(in, at::kInt), g, "floor").to(at::kInt);
  }
  return t;
}

QuantizedWeight gptq_unpack(const GptqTensors& t, const GptqLayerFormat& f, bool v1, int64_t out,
                            int64_t in, const std::string& where, const std::string& layer) {
  const int bits = f.bits;
  QT_CHECK(in * bits % 32 == 0 && out * bits % 32 == 0, where, ": layer '", layer, "' [", out, ", ",
           in, "] cannot be stored at ", bits,
           " bits (in and out features * bits must be "
           "multiples of 32)");
  const int64_t G = gptq_group_count(f.group_size, in);
  const std::string geometry = std::to_string(bits) + "-bit, group_size " +
                               std::to_string(f.group_size) + ", layer [" + std::to_string(out) +
                               ", " + std::to_string(in) + "]";
  check_hf_tensor(t.qweight, HfTensorKind::kInt32, {in * bits / 32, out}, where, layer + ".qweight",
                  geometry);
  check_hf_tensor(t.qzeros, HfTensorKind::kInt32, {G, out * bits / 32}, where, layer + ".qzeros",
                  geometry);
  check_hf_tensor(t.scales, HfTensorKind::kFloat, {G, out}, where, layer + ".scales", geometry);

  const at::Tensor trivial =
      at::div(at::arange(in, at::kInt), f.group_size == -1 ? in : f.group_size, "floor")
          .to(at::kInt);
  at::Tensor g_idx;
  if (t.g_idx.defined()) {
    const std::string name = layer + ".g_idx";
    QT_CHECK((t.g_idx.scalar_type() == at::kInt || t.g_idx.scalar_type() == at::kLong) &&
                 t.g_idx.sizes() == at::IntArrayRef({in}),
             where, ": tensor '", name, "': expected int32 [", in, "], got ",
             describe_tensor(t.g_idx));
    g_idx = t.g_idx.to(at::kInt).contiguous();
    const int64_t lo = g_idx.min().item<int64_t>(), hi = g_idx.max().item<int64_t>();
    QT_CHECK(lo >= 0 && hi < G, where, ": tensor '", name, "': groups must be in [0, ", G,
             "), got [", lo, ", ", hi, "]");
    QT_CHECK(f.desc_act || at::equal(g_idx, trivial), where, ": tensor '", name,
             "': groups out of order but desc_act is false for this layer");
  } else {
    QT_CHECK(!f.desc_act, where, ": tensor '", layer,
             ".g_idx' is missing (desc_act true: the groups are in act order)");
  }

  const at::Tensor codes = gptq_unpack_stream(t.qweight.t().contiguous(), bits);  // [out, in]
  at::Tensor zero = gptq_unpack_stream(t.qzeros, bits).t().contiguous();          // [out, G]
  if (v1) {
    zero = zero + 1;
    QT_CHECK(zero.max().item<int64_t>() < (int64_t{1} << bits), where, ": tensor '", layer,
             ".qzeros': a v1 stored zero ", (int64_t{1} << bits) - 1, " means zero point ",
             int64_t{1} << bits, ", outside the ", bits,
             "-bit range (an asym zero 0 that wrapped; store such layers as gptq_v2)");
  }
  const at::Tensor scale = t.scales.to(at::kFloat).t().contiguous();
  QT_CHECK(at::isfinite(scale).all().item<bool>(), where, ": tensor '", layer,
           ".scales' holds a NaN or infinite scale");

  QuantSpec spec;
  spec.bits = bits;
  const int64_t mid = int64_t{1} << (bits - 1);
  spec.scheme = (zero == mid).all().item<bool>() ? Scheme::kSym : Scheme::kAsym;
  spec.granularity = f.group_size == -1 ? Granularity::kPerChannel : Granularity::kPerGroup;
  if (f.group_size != -1) spec.group_size = f.group_size;
  spec.has_g_idx = g_idx.defined() && !at::equal(g_idx, trivial);
  const at::Tensor signed_codes = spec.scheme == Scheme::kSym ? codes - mid : codes;
  const at::Tensor zero_param = spec.scheme == Scheme::kSym ? at::zeros_like(zero) : zero;
  return QuantizedWeight::from_codes(signed_codes, {scale, zero_param}, spec, {out, in},
                                     spec.has_g_idx ? g_idx : at::Tensor());
}

}  // namespace qtune
