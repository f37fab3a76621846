// Consecutive static int8 layers that hand each other u8 codes instead of fp32.
//
// An int8 layer quantizes its fp32 input with its own static scale and zero
// point (int8.h). When the next layer is static u8 too, the producing layer can
// write the codes that next layer would have made of its output, and the fp32
// tensor between them is never built. This is an optional capability of an
// int8 kernel (Int8CodesKernel, found with codes_kernel()); a model uses it
// only when every layer of a chain has it, and runs the plain path otherwise.
//
// The definition. For a static u8 layer L with input codes c (what
// quantize_activation makes of some fp32 x with L's own parameters; L's
// integer product sees only the codes, so L.forward(x) is a function of c):
//   forward_codes(c, out) = quantize_activation(pool(act(L.forward(x))), {out.scale,
//                                               out.zero_point}, u8)
//   forward_from_codes(c, relu) = act(L.forward(x))
// with act = ReLU if asked (else identity) and pool = max_pool2d(window
// out.max_pool, stride out.max_pool, no padding, floor) if out.max_pool > 1.
// Element by element that is, with y the layer's own fp32 output,
//   y_code = clamp(nearbyint(y * (1/s_next)) + zp_next, relu ? zp_next : 0, 255)
// (1/s_next in fp32, ties to even), max-pooled. Quantizing is monotonic, so
// pooling the codes equals quantizing the pooled values, exactly; and the
// ReLU is the clamp at zp_next, the code of 0.0. So a chain computes exactly
// what the unfused layers compute (layer, relu, max_pool2d, next layer's input
// quantization) with the same kernels. A backend must keep that equality bit
// for bit against its own fp32 forward; between backends codes differ only
// where their fp32 outputs (which agree within the tolerance of int8.h's
// tests) fall on different sides of a rounding boundary: off by one, rarely.
//
// Codes are uint8 tensors in any memory format (channels-last is what the
// convolutions want). A Linear reads codes [M, in], or [N, C, H, W] with
// C * H * W = in as their flatten(1) (in logical NCHW order, whatever the
// memory format), so a convolution's channels-last output feeds it directly.
#pragma once

#include "backends/int8.h"

namespace qtune {

/// Where a chained layer's output goes: u8 codes of the next layer's static input.
struct CodesOutput {
  float scale = 1.0f;      ///< the next layer's static input scale
  int32_t zero_point = 0;  ///< its u8 zero point (0..255)
  bool relu = false;       ///< ReLU before quantizing (a clamp at zero_point)
  int64_t max_pool = 1;    ///< Conv2d only: max-pool window = stride after the ReLU; 1 = none
};

/// The codes-to-codes entries of an int8 kernel whose layer takes static u8 input.
class Int8CodesKernel {
 public:
  virtual ~Int8CodesKernel() = default;
  /// u8 codes of this layer's input -> u8 codes of the next layer's input (see the top).
  virtual at::Tensor forward_codes(const at::Tensor& codes, const CodesOutput& out) const = 0;
  /// u8 codes of this layer's input -> fp32 output (the last layer of a chain).
  virtual at::Tensor forward_from_codes(const at::Tensor& codes, bool relu) const = 0;
};

/// The kernel's codes entries when it has them and its layer's input is static
/// u8; nullptr otherwise (the caller runs the plain fp32 path).
const Int8CodesKernel* codes_kernel(const LayerKernel& kernel);

/// The codes a chain starts from: `x` quantized with `layer`'s static u8 input.
at::Tensor quantize_chain_input(const at::Tensor& x, const Int8Layer& layer);

/// The output that feeds `next` (a static u8 layer) after an optional ReLU and max-pool.
CodesOutput codes_output_for(const Int8Layer& next, bool relu, int64_t max_pool = 1);

/// qtune::Error unless `codes` is a uint8 tensor and `out` valid for `kind`; `where` leads.
void check_codes_call(LayerKind kind, const at::Tensor& codes, const CodesOutput& out,
                      const std::string& where);
/// qtune::Error unless `layer` takes static u8 input (a chain needs it).
void check_codes_layer(const Int8Layer& layer, const std::string& where);

}  // namespace qtune
