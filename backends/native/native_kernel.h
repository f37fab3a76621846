// The `native` backend: weight-only Linear and Conv2d layers on the packed
// runtime form (packed_weight.h) and the per-ISA kernels (woq_gemm.h). The
// packed form replaces qtune's stored codes in memory; the stored form is
// rebuilt from it bit-exactly when a model is saved.
#pragma once

#include <optional>
#include <string>

#include "backends/layer_kernel.h"
#include "backends/native/packed_weight.h"
#include "backends/native/woq_gemm.h"

namespace qtune {

/// Whether `native` runs weights of `spec` (both layer kinds); `reason` says why not.
bool native_layer_supports(LayerKind kind, const QuantSpec& spec, std::string* reason);

/// Linear: weight [out, in]; Conv2d: [out, in/groups, kh, kw] (any groups).
LayerKernelPtr make_native_kernel(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
                                  const ConvGeometry& geometry);

namespace native {
/// The inner strategy for a `kind` layer's product with `m` activation rows
/// on `format` codes, with integer zero points or not (the thresholds and
/// their measurement are in native_kernel.cpp).
Path choose_path(LayerKind kind, int64_t m, CodeFormat format, bool zero_points, Isa isa);
/// choose_path's rule in words, for backend_detail.
std::string path_rule(LayerKind kind, CodeFormat format, bool zero_points, Isa isa);
}  // namespace native

}  // namespace qtune
