// The `onednn` int8 backend (the analogue of intel-extension-for-pytorch):
// oneDNN 2.6 matmul (Linear) and convolution (Conv2d) on u8/s8 activations and
// s8 weights with fp32 output, one primitive and one reordered (blocked) weight
// per layer and input shape, created on first use and reused.
#pragma once

#include <string>

#include "backends/int8.h"

namespace qtune {

/// Every valid int8 layer (static or dynamic, u8 or s8, per channel or per tensor), on a
/// CPU where oneDNN has int8 dot products (see onednn_int8.cpp for why only there).
bool onednn_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason);

LayerKernelPtr make_onednn_int8_kernel(LayerKind kind, Int8Layer layer,
                                       const ConvGeometry& geometry);

/// Whether oneDNN reports int8 acceleration here; `isa` gets its ISA name.
bool onednn_int8_accelerated(std::string* isa);

}  // namespace qtune
