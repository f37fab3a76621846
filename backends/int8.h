// Int8 layers: what static and dynamic post-training quantization, SmoothQuant
// and QAT (converted) produce, and what the `onednn` and `torch` backends run.
//
// Note to the int8-methods helper: source-compatible with the first draft;
// added: ActivationQParams, choose_activation_qparams and quantize_activation
// (the one definition of how an input is quantized, static or dynamic; use them
// for fake quantization too so QAT and the kernels agree), check_int8_layer,
// and Int8Kernel (what every int8 kernel is; storage reads the layer back from it).
//
// Weights are s8, symmetric, per output channel (or per tensor): a
// QuantizedWeight with bits = 8, scheme sym. Activations are quantized on the
// way in: with a fixed scale and zero point found by calibration (static), or
// from each batch's own range at run time (dynamic). The output is fp32:
//   y = (sum_k (xq_k - zp) * wq_k) * x_scale * w_scale[o] + bias[o]
// A backend's kernel must compute exactly this integer product; tests compare
// every backend against the eager reference doing the same arithmetic.
//
// Quantizing an input x (fp32), as PyTorch and oneDNN do it:
//   xq = clamp(nearbyint(x * (1/scale)) + zp, qmin, qmax)   (1/scale in fp32; ties to even)
//   u8: [0, 255] with zero point zp; s8: [-128, 127], zp = 0.
// Dynamic parameters of a batch, lo = min(min(x), 0), hi = max(max(x), 0) (0.0 stays exact):
//   u8: PyTorch's own quant_utils::ChooseQuantizationParams(lo, hi, 0, 255), reduce_range
//       off, called directly so the torch backend's linear_dynamic picks the same numbers:
//       scale = (hi - lo) / 255 in double then fp32, at least 6.1e-5 (PyTorch's cut-off);
//       zp = the zero point of the end with the smaller rounding error, rounded, clamped
//   s8: scale = max(|lo|, |hi|) / 127 (INC's sym formula), at least 6.1e-5, zp = 0
//   a zero range gives scale 0.1 (PyTorch's value), so all-zero inputs stay zero.
#pragma once

#include <optional>
#include <string>

#include "backends/backend.h"

namespace qtune {

struct ActivationQuant {
  bool dynamic = false;    ///< range from each batch at run time; scale/zero_point unused
  bool is_signed = false;  ///< s8 (symmetric, zero_point 0) instead of u8 (asymmetric)
  float scale = 1.0f;      ///< static: real value of one step
  int32_t zero_point = 0;  ///< static, u8: the code of 0.0 (0..255)
};

struct Int8Layer {
  QuantizedWeight weight;  ///< bits 8, sym; per channel or per tensor
  ActivationQuant input;
  std::optional<at::Tensor> bias;  ///< fp32 [out], added after dequantizing
};

/// The int8 entries of a backend; a backend without int8 support leaves them empty.
struct Int8Backend {
  std::string name;  ///< "onednn" | "native" | "torch" | "eager"
  std::function<bool(LayerKind kind, const Int8Layer& layer, std::string* reason)> supports;
  std::function<LayerKernelPtr(LayerKind kind, Int8Layer layer, const ConvGeometry& geometry)>
      make_kernel;
};

/// Int8-capable backends in preference order; eager (the reference) last.
const std::vector<Int8Backend>& int8_backends();
const Int8Backend& int8_backend_by_name(const std::string& name);
/// Resolves "auto" (onednn when oneDNN reports int8 dot products on this CPU,
/// else native, qtune's exact kernels) or a name for one layer; `reason` gets why.
const Int8Backend& choose_int8_backend(const std::string& requested, LayerKind kind,
                                       const Int8Layer& layer, std::string* reason);

/// The scale and zero point an input is quantized with (see the top of this file).
struct ActivationQParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
/// Static: the layer's own; dynamic: computed from `x`'s range.
ActivationQParams choose_activation_qparams(const at::Tensor& x, const ActivationQuant& q);
/// Codes of `x`: uint8 (is_signed false) or int8 tensor of x's shape.
at::Tensor quantize_activation(const at::Tensor& x, const ActivationQParams& p, bool is_signed);

/// qtune::Error unless `layer` is a valid int8 layer of `kind` (weight 8-bit sym
/// per channel or per tensor, shapes, bias, activation parameters); `where` leads the message.
void check_int8_layer(LayerKind kind, const Int8Layer& layer, const std::string& where);

/// What every int8 kernel is: the saved form of the layer is read back from it.
/// tensors(): "qweight", "scales", optional "bias" (like a weight-only layer) plus
/// "input_scale" (f32 [1]) and "input_zero_point" (i32 [1]).
class Int8Kernel : public LayerKernel {
 public:
  explicit Int8Kernel(Int8Layer layer) : layer_(std::move(layer)) {}
  const Int8Layer& int8_layer() const { return layer_; }
  const QuantizedWeight* quantized_weight() const override { return &layer_.weight; }
  std::map<std::string, at::Tensor> tensors() const override;
  /// Weights at 1 byte each (the int32 packing of 4 codes a word) + scales + bias.
  int64_t storage_bytes() const override;

 protected:
  Int8Layer layer_;
};

/// Int8 weight codes of a layer, int8 tensor [rows, cols] (flattened like QuantizedWeight).
at::Tensor int8_weight_codes(const QuantizedWeight& w);
/// Per-output-channel weight scales, float32 [rows] (a per-tensor scale repeated).
at::Tensor int8_weight_scales(const QuantizedWeight& w);

}  // namespace qtune
