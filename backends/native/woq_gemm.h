// The native weight-only product y[M, N] = x[M, K] · Wᵀ (+ bias), W a
// PackedWeight, in two inner strategies:
//
//  kInt8Activations (llama.cpp's trick): every block of 32 activations of a
//    row is quantized to int8 (scale = absmax / 127, q = nearbyint(x * (127 /
//    absmax)) in fp32, ties to even), the block's code products are summed in
//    int32 (VNNI vpdpbusd, or AVX2 vpmaddubsw on unsigned codes × signed
//    activations, which cannot saturate: 2 · 15 · 127 < 2^15), then scaled by
//    d · activation scale. The result is the exact product of the dequantized
//    weights with the dequantized activations up to fp32 summation order: not
//    bit-identical to eager, which multiplies by the unquantized activations.
//  kFloat: the block's codes are turned into fp32 weights in registers and
//    multiplied with the fp32 activations by FMA: eager's result up to the
//    fp16 rounding of the scales and fp32 summation order.
//  kDequantized: for a convolution over many output pixels, the layer's
//    weights are decoded to fp32 once per call (woq_decode.h) and the
//    convolution is LibTorch's; the same values as kFloat's, summed in that
//    library's order. Not an IsaKernels entry: the layer kernel runs it.
//
// Every IsaKernels path of every ISA computes one output element from the
// same blocks in the same order within its vector width, and rows are
// independent: a caller that splits the N rows over threads gets the same
// result for any thread count. ISAs differ in the last bits (8 vs 16 fp32 lanes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/native/cpu_isa.h"
#include "backends/native/packed_weight.h"

namespace qtune::native {

enum class Path { kInt8Activations, kFloat, kDequantized };
std::string to_string(Path path);  ///< "int8-act" | "fma" | "dequant+gemm"
/// kInt8Activations needs integer codes (kU4, kS8); kFloat and kDequantized
/// take every format; kDequantized serves convolutions only.
/// gemm_rows on an unsupported pair is an internal error.
bool path_supports(Path path, CodeFormat format);
/// Whether the AVX-512 int8 GEMM (int8_panel_avx512.cpp) runs these codes:
/// 4-bit codes, and int8 without integer zero points (asym int8's u - zero
/// needs 9 bits). choose_path and the kernel both ask here.
bool int8_gemm_serves(CodeFormat format, bool zero_points);

/// Activations laid out for one PackedWeight: gathered through column_of,
/// zero-padded to whole blocks; for kInt8Activations also quantized per block.
/// Reused across calls (no allocation on the hot path once sized).
struct PreparedActivations {
  int64_t m = 0;
  int64_t padded_cols = 0;
  std::vector<float> x;           ///< [m][padded_cols] (kFloat)
  std::vector<int8_t> q;          ///< [m][padded_cols] (kInt8Activations)
  std::vector<float> scale;       ///< [m][blocks]: absmax / 127 (0 for an all-zero block)
  std::vector<int32_t> code_sum;  ///< [m][blocks]: sum of q in the block (for code offsets)
  std::vector<float> sum;         ///< [m][blocks]: sum of x in the block (for has_min), both paths
};
// kInt8Activations computes, per output (i, r), in fp32:
//   acc = sum over b of  d[r,b] * scale[i,b] * (float)(dot(c, q) - offset(r,b) * code_sum[i,b])
//                      + m[r,b] * sum[i,b]                       (has_min)
//   y[i, r] = global_scale * acc (+ bias[r])
// The integer part is exact; the has_min term uses the unquantized sum.

/// What one ISA provides. Every entry computes exactly what the kRef entry
/// computes, up to fp32 summation order.
struct IsaKernels {
  Isa isa;
  /// Fills `a` from x [m, w.cols] (row stride ldx) for `path`.
  void (*prepare)(const PackedWeight& w, const float* x, int64_t m, int64_t ldx, Path path,
                  PreparedActivations* a);
  /// y[i, r] = sum over blocks (+ bias[r]) for rows r in [r0, r1), all m rows of `a`.
  void (*gemm_rows)(const PackedWeight& w, const PreparedActivations& a, Path path,
                    const float* bias, float* y, int64_t ldy, int64_t r0, int64_t r1);
  /// kDequantized's decoding: decode_rows (woq_decode.h) on this ISA; the
  /// same weights up to the rounding of one fused multiply-add (has_min).
  void (*decode_rows)(const PackedWeight& w, int64_t r0, int64_t r1, float* out);
};

const IsaKernels& ref_kernels();
const IsaKernels& avx2_kernels();    ///< only callable where the CPU has AVX2, FMA, F16C
const IsaKernels& avx512_kernels();  ///< only callable where the CPU has AVX-512 F/BW/VL/VNNI

const IsaKernels& kernels_for(Isa isa);

}  // namespace qtune::native
