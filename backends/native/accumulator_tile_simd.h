// Private to the ISA files of backends/native (compiled with AVX2 or more):
// the fp32 accumulator tile of the GEMM micro-kernels (woq_float_*.cpp,
// int8_panel_*.cpp), MR activation rows by two vectors of output rows,
// started from zero or from the partial sums a previous k-chunk parked in y,
// and stored back with masks that leave the rows past a panel's last alone.
// The AVX-512 forms exist where the including file is compiled for AVX-512.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace qtune::native {

/// 32-bit lanes [0, n) of a ymm set, n clamped to 0..8.
inline __m256i lane_mask8(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(n, 0, 8))), idx);
}

template <int MR>
inline void load_tile(__m256 (&acc)[MR][2], bool first, const float* y, int64_t ldy, __m256i mask0,
                      __m256i mask1) {
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (first) {
      acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    } else {
      acc[i][0] = _mm256_maskload_ps(y + i * ldy, mask0);
      acc[i][1] = _mm256_maskload_ps(y + i * ldy + 8, mask1);
    }
  }
}

template <int MR>
inline void store_tile(const __m256 (&acc)[MR][2], float* y, int64_t ldy, __m256i mask0,
                       __m256i mask1) {
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    _mm256_maskstore_ps(y + i * ldy, mask0, acc[i][0]);
    _mm256_maskstore_ps(y + i * ldy + 8, mask1, acc[i][1]);
  }
}

#ifdef __AVX512F__
/// Lanes [0, n) of a zmm set, n clamped to 0..16.
inline __mmask16 lane_mask16(int64_t n) {
  return static_cast<__mmask16>((1u << std::clamp<int64_t>(n, 0, 16)) - 1u);
}

template <int MR>
inline void load_tile(__m512 (&acc)[MR][2], bool first, const float* y, int64_t ldy,
                      __mmask16 mask0, __mmask16 mask1) {
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (first) {
      acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    } else {
      acc[i][0] = _mm512_maskz_loadu_ps(mask0, y + i * ldy);
      acc[i][1] = _mm512_maskz_loadu_ps(mask1, y + i * ldy + 16);
    }
  }
}

template <int MR>
inline void store_tile(const __m512 (&acc)[MR][2], float* y, int64_t ldy, __mmask16 mask0,
                       __mmask16 mask1) {
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(y + i * ldy, mask0, acc[i][0]);
    _mm512_mask_storeu_ps(y + i * ldy + 16, mask1, acc[i][1]);
  }
}
#endif

}  // namespace qtune::native
