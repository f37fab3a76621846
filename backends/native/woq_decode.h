// Decoding a PackedWeight back to fp32 weights, for products with many
// activation rows: there each decoded weight is reused M times, so decoding
// the layer once per call and handing the product to a tuned fp32 GEMM or
// convolution beats decoding inside the kernel (the measurement is in
// native_kernel.cpp).
#pragma once

#include <cstdint>

#include "backends/native/packed_weight.h"

namespace qtune::native {

/// W[r, c] for rows r in [r0, r1) into out[(r - r0) * w.cols + c], in the
/// input-column order of the layer (column_of undone, padding dropped), with
/// the formulas of packed_weight.h evaluated as
///   (global_scale * d) * (c - offset)  [+ global_scale * m]   or
///   (global_scale * d) * table[c];
/// global_scale is a power of two, so global_scale * d is exact and each
/// weight is rounded once, as the kFloat path's d · (c - offset) is.
void decode_rows(const PackedWeight& w, int64_t r0, int64_t r1, float* out);

}  // namespace qtune::native
