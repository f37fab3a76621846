// The eager backend: the reference execution of a quantized layer. It keeps
// the packed weight and on every forward dequantizes it and calls ATen's
// linear / conv2d, so its output is by definition what the quantization
// means; every other backend is tested against it.
#pragma once

#include <optional>
#include <string>

#include "backends/layer_kernel.h"

namespace qtune {

/// Eager runs every layer kind and spec (it is the fallback of choose_backend).
bool eager_supports(LayerKind kind, const QuantSpec& spec, std::string* reason);

/// Linear: weight shape [out, in]; Conv2d: [out, in/groups, kh, kw].
LayerKernelPtr make_eager_kernel(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
                                 const ConvGeometry& geometry);

}  // namespace qtune
