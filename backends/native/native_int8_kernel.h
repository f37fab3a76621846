// The `native` int8 backend: qtune's own exact W8A8 kernels (int8_gemm.h),
// bit-identical to the eager reference on every ISA, for CPUs where oneDNN
// has no exact int8 path (no VNNI). Linear, and Conv2d through im2col. Its
// kernels take part in int8 chains (int8_chain.h): the epilogue writes the
// next layer's u8 codes, and u8 max-pooling runs on them.
#pragma once

#include <string>

#include "backends/int8.h"
#include "backends/native/int8_gemm.h"

namespace qtune {

/// True for every valid int8 layer whose sums fit int32 (k <= native::kInt8MaxK).
bool native_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason);

/// A kernel on the active ISA (native::active_isa).
LayerKernelPtr make_native_int8_kernel(LayerKind kind, Int8Layer layer,
                                       const ConvGeometry& geometry);
/// A kernel on `isa`, which the CPU must have (tests run every path this way).
LayerKernelPtr make_native_int8_kernel_on(native::Isa isa, LayerKind kind, Int8Layer layer,
                                          const ConvGeometry& geometry);

/// "ISA avx2 (CPU has AVX2 but no AVX-512 VNNI)": what `auto` records.
std::string native_int8_isa_description();

}  // namespace qtune
