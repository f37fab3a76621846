#include "backends/int8.h"

#include <ATen/Parallel.h>
#include <ATen/native/quantized/cpu/QuantUtils.h>

#include <cmath>

#include "backends/activation_code.h"
#include "common/error.h"
#include "quant/packing.h"

namespace qtune {

ActivationQParams choose_activation_qparams(const at::Tensor& x, const ActivationQuant& q) {
  if (!q.dynamic) return ActivationQParams{q.scale, q.zero_point};
  QT_CHECK(x.numel() > 0, "dynamic int8 input: expected a non-empty tensor, got shape ", x.sizes());
  const auto [mn, mx] = at::aminmax(x.to(at::kFloat));
  const float lo = std::min(mn.item<float>(), 0.0f);
  const float hi = std::max(mx.item<float>(), 0.0f);
  QT_CHECK(std::isfinite(lo) && std::isfinite(hi), "dynamic int8 input: expected finite values, ",
           "got range [", lo, ", ", hi, "]");
  if (q.is_signed) {
    float scale = std::max(-lo, hi) / 127.0f;
    if (scale == 0.0f || std::isinf(1.0f / scale)) scale = 0.1f;
    scale = std::max(scale, ::quant_utils::SMALL_SCALE_THRESHOLD);  // as for u8
    return ActivationQParams{scale, 0};
  }
  const auto p = ::quant_utils::ChooseQuantizationParams(lo, hi, 0, 255);
  return ActivationQParams{static_cast<float>(p.scale), p.zero_point};
}

namespace {

// activation_code in a loop; the adder's rounding (activation_code.h)
// vectorises at the baseline ISA, where nearbyintf is a libm call.
template <typename Q>
void quantize_loop(const float* x, Q* out, int64_t n, float inv, int32_t zp, float qmin,
                   float qmax) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<Q>(activation_code(x[i], inv, zp, qmin, qmax));
}

}  // namespace

at::Tensor quantize_activation(const at::Tensor& x, const ActivationQParams& p, bool is_signed) {
  // Multiplying by the fp32 reciprocal (not dividing) is what PyTorch's and
  // oneDNN's vectorised quantizers do; the two differ on rare ties only.
  const float inv = 1.0f / p.scale;
  // A channels-last input stays channels-last (what int8 convolutions want);
  // the loop runs over memory order, the same for both tensors.
  at::Tensor xf = x.to(at::kFloat);
  if (!xf.is_contiguous() && !xf.is_contiguous(at::MemoryFormat::ChannelsLast))
    xf = xf.contiguous();
  at::Tensor out = at::empty_like(xf, xf.options().dtype(is_signed ? at::kChar : at::kByte));
  const float* src = xf.data_ptr<float>();
  const int32_t zp = p.zero_point;
  constexpr int64_t kGrain = 1 << 14;
  if (is_signed) {
    int8_t* dst = out.data_ptr<int8_t>();
    at::parallel_for(0, xf.numel(), kGrain, [&](int64_t b, int64_t e) {
      quantize_loop(src + b, dst + b, e - b, inv, zp, -128.0f, 127.0f);
    });
  } else {
    uint8_t* dst = out.data_ptr<uint8_t>();
    at::parallel_for(0, xf.numel(), kGrain, [&](int64_t b, int64_t e) {
      quantize_loop(src + b, dst + b, e - b, inv, zp, 0.0f, 255.0f);
    });
  }
  return out;
}

void check_int8_layer(LayerKind kind, const Int8Layer& layer, const std::string& where) {
  const QuantizedWeight& w = layer.weight;
  const QuantSpec& s = w.spec;
  QT_CHECK(s.bits == 8 && s.scheme == Scheme::kSym, where, ": expected an 8-bit sym weight, got ",
           s.bits, "-bit ", to_string(s.scheme));
  const size_t dims = kind == LayerKind::kLinear ? 2 : 4;
  QT_CHECK(w.shape.size() == dims, where, ": expected a ", dims, "-D weight, got shape ",
           at::IntArrayRef(w.shape));
  QT_CHECK(s.granularity != Granularity::kPerGroup || s.groups_per_row(w.cols()) == 1, where,
           ": expected a per-channel or per-tensor weight, got groups of ", s.group_size,
           " over rows of ", w.cols());
  QT_CHECK(w.packed.defined() && w.scale.defined(), where, ": weight without codes or scales");
  QT_CHECK(!layer.bias || (layer.bias->dim() == 1 && layer.bias->size(0) == w.rows()), where,
           ": expected a bias of shape [", w.rows(), "], got ",
           layer.bias ? layer.bias->sizes() : at::IntArrayRef{});
  const ActivationQuant& a = layer.input;
  if (a.dynamic) return;
  QT_CHECK(std::isfinite(a.scale) && a.scale > 0, where,
           ": expected a positive finite input scale, got ", a.scale);
  if (a.is_signed) {
    QT_CHECK(a.zero_point == 0, where, ": s8 input is symmetric: expected zero point 0, got ",
             a.zero_point);
  } else {
    QT_CHECK(a.zero_point >= 0 && a.zero_point <= 255, where,
             ": u8 input: expected a zero point in [0, 255], got ", a.zero_point);
  }
}

at::Tensor int8_weight_codes(const QuantizedWeight& w) {
  return from_unsigned(unpack_rows(w.packed, 8, w.cols()), w.spec).to(at::kChar);
}

at::Tensor int8_weight_scales(const QuantizedWeight& w) {
  return w.scale.to(at::kFloat).reshape({-1}).expand({w.rows()}).contiguous();
}

std::map<std::string, at::Tensor> Int8Kernel::tensors() const {
  std::map<std::string, at::Tensor> t{{"qweight", layer_.weight.packed},
                                      {"scales", layer_.weight.scale}};
  if (layer_.bias) t["bias"] = *layer_.bias;
  t["input_scale"] = at::full({1}, layer_.input.scale, at::kFloat);
  t["input_zero_point"] = at::full({1}, layer_.input.zero_point, at::kInt);
  return t;
}

int64_t Int8Kernel::storage_bytes() const {
  int64_t bytes = layer_.weight.storage_bytes();
  if (layer_.bias) bytes += layer_.bias->numel() * layer_.bias->element_size();
  return bytes;
}

}  // namespace qtune
