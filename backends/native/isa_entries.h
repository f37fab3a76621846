// Internal to backends/native: the per-ISA entry points that the IsaKernels
// tables (isa_tables.cpp, compiled at the baseline ISA) dispatch to. Each
// ISA-specific function lives in a file compiled with that ISA's flags
// (CMakeLists.txt qtune_isa_sources), so it may only be called after
// detect_cpu_isa() allowed it. Signatures mirror IsaKernels (woq_gemm.h)
// without the `path` argument: each function is one path.
#pragma once

#include <cstdint>

#include "backends/native/packed_weight.h"
#include "backends/native/woq_gemm.h"

namespace qtune::native {

// Reference twin (woq_gemm_ref.cpp), plain C++: the definition every other
// entry is tested against. The tables also use ref_prepare_float (a gather
// through column_of, memory bound) for every ISA.
void ref_prepare_float(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
                       PreparedActivations* a);
void ref_prepare_int8(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
                      PreparedActivations* a);
void ref_gemm_rows_float(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                         float* y, int64_t ldy, int64_t r0, int64_t r1);
void ref_gemm_rows_int8(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                        float* y, int64_t ldy, int64_t r0, int64_t r1);

// kInt8Activations, integer codes only (kU4, kS8): woq_gemm_avx2.cpp, woq_gemm_avx512.cpp.
void int8_prepare_avx2(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
                       PreparedActivations* a);
void int8_gemm_rows_avx2(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                         float* y, int64_t ldy, int64_t r0, int64_t r1);
// Its GEMM for many activation rows, kU4 only (int8_panel_avx2.cpp).
void int8_panel_rows_avx2(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                          float* y, int64_t ldy, int64_t r0, int64_t r1);
void int8_prepare_avx512(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
                         PreparedActivations* a);
void int8_gemm_rows_avx512(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                           float* y, int64_t ldy, int64_t r0, int64_t r1);
// Its GEMM for many activation rows (int8_panel_avx512.cpp), on the formats
// int8_gemm_serves (woq_gemm.h) accepts.
void int8_panel_rows_avx512(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                            float* y, int64_t ldy, int64_t r0, int64_t r1);

// kFloat, every CodeFormat: woq_float_avx2.cpp, woq_float_avx512.cpp. `a` was
// filled by ref_prepare_float.
void float_gemm_rows_avx2(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                          float* y, int64_t ldy, int64_t r0, int64_t r1);
void float_gemm_rows_avx512(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                            float* y, int64_t ldy, int64_t r0, int64_t r1);

// Decoding to fp32 (woq_decode.h; the reference twin is decode_rows there):
// woq_float_avx2.cpp, woq_float_avx512.cpp.
void float_decode_rows_avx2(const PackedWeight& w, int64_t r0, int64_t r1, float* out);
void float_decode_rows_avx512(const PackedWeight& w, int64_t r0, int64_t r1, float* out);

}  // namespace qtune::native
