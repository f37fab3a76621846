// The native W8A8 GEMM: exact integer products of int8 activation codes and
// s8 weight codes, then the fp64 epilogue of the eager reference
// (backends/eager/eager_int8.cpp), so the output is the reference's bit for bit.
//
//   acc[m, n] = sum_k (a[m, k] - zp) * w[n, k]                  (int32, exact)
//   y[m, n]   = float(double(acc) * (double(w_scale[n]) * double(x_scale)) + double(bias[n]))
//
// One file per ISA plus the plain reference twin (int8_gemm_ref.cpp); ISA files
// include no ATen (they are compiled with their own flags, without the shared
// precompiled header). Exactness without VNNI: vpmaddubsw's s16 pair sums
// saturate for u8 x s8 (255 * 127 * 2 > 32767), so AVX2 splits each u8 code
// as 2 * (a >> 1) + (a & 1) and multiplies the two parts separately.
// AVX-512 uses vpdpbusd (u8 x s8 into s32, exact); s8 activations enter it as
// u8 (code ^ 0x80 = code + 128) with their zero point raised by 128.
// Any split of the rows or the output channels gives the same bits: every sum
// over k is an exact integer and the epilogue is per element; k is never split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/native/cpu_isa.h"

namespace qtune::native {

/// Where the activation rows of the GEMM come from: a dense [m, k] matrix of
/// codes, or the im2col rows of a convolution over an NHWC code tensor (one
/// group's channel slice); rows are output positions (n, oh, ow) and k runs
/// over (kh, kw, channel) — the weights are packed in that order too.
struct Int8Source {
  const uint8_t* data = nullptr;  ///< u8 codes, or s8 codes as their bytes
  bool is_signed = false;
  int32_t zero_point = 0;  ///< code of 0.0 (u8); 0 for s8
  int64_t m = 0, k = 0;
  int64_t lda = 0;  ///< dense rows' stride (bytes)
  bool conv = false;
  int64_t batch = 0, h = 0, w = 0, channels = 0, channel_stride = 0, channel_offset = 0;
  int64_t kh = 0, kw = 0, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1, oh = 0, ow = 0;
};

/// Rows [m0, m0 + rows) of `s` as codes, [rows][s.k]; conv padding is the
/// zero point's code (the real 0.0, as the reference pads).
void gather_rows(const Int8Source& s, int64_t m0, int64_t rows, uint8_t* dst);

/// s8 weights [n, k] in one ISA's layout, with each row's code sum.
struct Int8PackedWeights {
  Isa isa = Isa::kRef;
  int64_t n = 0, k = 0;
  std::vector<uint8_t> bytes;     ///< the ISA's layout (see its pack function)
  std::vector<int32_t> row_sums;  ///< sum_k w[n, k]
};

/// Output side: y[m, n] for n in the GEMM's range, rows of stride ldy.
struct Int8Epilogue {
  const double* scale = nullptr;  ///< [n]: double(w_scale[n]) * double(x_scale)
  const double* bias = nullptr;   ///< [n] or null
  bool relu = false;
  float* y = nullptr;  ///< fp32 outputs [m][ldy], unless `codes` is set
  int64_t ldy = 0;
  /// In an int8 chain (backends/int8_chain.h): instead of y, the u8 codes of
  /// the next layer's input [m][ldy], activation_code(y, code_inv_scale,
  /// code_zero_point, 0, 255) of the fp32 value y would have held.
  uint8_t* codes = nullptr;
  float code_inv_scale = 1.0f;
  int32_t code_zero_point = 0;
};

/// The reference's fp64 arithmetic on a tile of sums acc [rows][ld_acc]
/// (columns n0..n1 of rows m0..m0+rows). Compiled at the baseline ISA: no FMA
/// can contract the multiply and the add, which the reference rounds apart.
void apply_epilogue(const int32_t* acc, int64_t ld_acc, int64_t m0, int64_t rows, int64_t n0,
                    int64_t n1, const Int8Epilogue& e);

/// Largest k whose sums fit int32: |code - zp| <= 255, |w| <= 128.
constexpr int64_t kInt8MaxK = 2147483647LL / (255 * 128);

// Per ISA: pack the weights [n, k] (row-major s8), and compute rows [m0, m1) x
// output channels [n0, n1) (n0 a multiple of int8_n_block(isa)).
Int8PackedWeights pack_int8_ref(const int8_t* w, int64_t n, int64_t k);
Int8PackedWeights pack_int8_avx2(const int8_t* w, int64_t n, int64_t k);
Int8PackedWeights pack_int8_avx512(const int8_t* w, int64_t n, int64_t k);
void int8_gemm_ref(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e,
                   int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void int8_gemm_avx2(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e,
                    int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void int8_gemm_avx512(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e,
                      int64_t m0, int64_t m1, int64_t n0, int64_t n1);

/// sum_k w[i, k] of each row of w [n, k].
std::vector<int32_t> int8_row_sums(const int8_t* w, int64_t n, int64_t k);

/// Output channels per packed block of `isa` (thread splits over n use multiples).
int64_t int8_n_block(Isa isa);
/// Rows per tile: gathered, converted and multiplied in thread-local buffers.
constexpr int64_t kInt8RowTile = 64;

/// Dispatch on `isa` (which the CPU must have).
Int8PackedWeights pack_int8(Isa isa, const int8_t* w, int64_t n, int64_t k);
void int8_gemm(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e, int64_t m0,
               int64_t m1, int64_t n0, int64_t n1);

}  // namespace qtune::native
