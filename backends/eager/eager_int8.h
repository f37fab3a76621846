// The eager int8 reference: the arithmetic of backends/int8.h written plainly.
// The input is quantized with the one shared definition, the integer product
// is computed in fp64 (exact: every partial sum is an integer far below 2^53),
// and scales and bias are applied in fp64 before rounding once to fp32. Every
// other int8 backend is tested against it; it is also the last-resort backend.
#pragma once

#include <string>

#include "backends/int8.h"

namespace qtune {

/// True for every valid int8 layer.
bool eager_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason);

/// Linear: weight [out, in]; Conv2d: [out, in/groups, kh, kw].
LayerKernelPtr make_eager_int8_kernel(LayerKind kind, Int8Layer layer,
                                      const ConvGeometry& geometry);

}  // namespace qtune
