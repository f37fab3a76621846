// The `torch` int8 backend (the analogue of INC's torch.dynamo/PT2E path):
// LibTorch's own quantized engine. Weights are prepacked once with
// quantized::linear_prepack and run with quantized::linear_dynamic, the one
// LibTorch 1.13 op with fp32 output (quantized::linear and conv2d requantize
// their output to 8 bits; conv2d_dynamic requantizes to the input's range);
// Conv2d runs as im2col + the same op, one prepacked weight per group.
#pragma once

#include <string>

#include "backends/int8.h"

namespace qtune {

/// Every valid int8 layer whose static input scale PyTorch can represent
/// (>= 6.1e-5, its smallest activation scale).
bool torch_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason);

LayerKernelPtr make_torch_int8_kernel(LayerKind kind, Int8Layer layer,
                                      const ConvGeometry& geometry);

/// The quantized engine the torch backend runs on ("onednn", "x86", "fbgemm",
/// "qnnpack"): the first of those this LibTorch supports; set once per process.
std::string torch_int8_engine();

}  // namespace qtune
