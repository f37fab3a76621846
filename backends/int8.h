// Int8 layers: what static and dynamic post-training quantization, SmoothQuant
// and QAT (converted) produce, and what the `onednn` and `torch` backends run.
//
// Weights are s8, symmetric, per output channel (or per tensor): a
// QuantizedWeight with bits = 8, scheme sym. Activations are quantized on the
// way in: with a fixed scale and zero point found by calibration (static), or
// from each batch's own range at run time (dynamic). The output is fp32:
//   y = (sum_k (xq_k - zp) * wq_k) * x_scale * w_scale[o] + bias[o]
// A backend's kernel must compute exactly this integer product; tests compare
// every backend against the eager reference doing the same arithmetic.
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
  std::string name;  ///< "onednn" | "torch" | "eager"
  std::function<bool(LayerKind kind, const Int8Layer& layer, std::string* reason)> supports;
  std::function<LayerKernelPtr(LayerKind kind, Int8Layer layer, const ConvGeometry& geometry)>
      make_kernel;
};

/// Int8-capable backends in preference order; eager (the reference) last.
const std::vector<Int8Backend>& int8_backends();
const Int8Backend& int8_backend_by_name(const std::string& name);
/// Resolves "auto" (INC's rule, "IPEX when installed, else dynamo": onednn when
/// oneDNN reports int8 acceleration on this CPU, else torch) or a name for one
/// layer; `reason` gets why.
const Int8Backend& choose_int8_backend(const std::string& requested, LayerKind kind,
                                       const Int8Layer& layer, std::string* reason);

}  // namespace qtune
