// Private to the ISA files of backends/native (compiled with AVX2 or more):
// the two layout steps of the kFloat panel loop (woq_float_*.cpp).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backends/native/woq_gemm.h"

namespace qtune::native {

/// Columns [k0, k0 + kc) of all a.m activation rows, copied into out
/// [a.m][kc]: the micro-kernel's broadcasts then read rows kc floats apart
/// instead of a padded row apart (with 4096 columns those rows are 16 KB
/// apart, fall in one L1 set and evict each other: the AVX2 GEMM at M = 512
/// took 110 ms so, 85 ms on the copy).
inline void pack_activation_rows(const PreparedActivations& a, int64_t k0, int64_t kc,
                                 std::vector<float>* out) {
  const int64_t pc = a.padded_cols;
  out->resize(static_cast<size_t>(a.m * kc));
  for (int64_t i = 0; i < a.m; ++i)
    std::memcpy(out->data() + i * kc, a.x.data() + i * pc + k0,
                static_cast<size_t>(kc) * sizeof(float));
}

/// r[j][t] -> r[t][j] for an 8 x 8 tile of floats.
inline void transpose8(__m256 r[8]) {
  __m256 u[8], v[8];
  for (int j = 0; j < 8; j += 2) {
    u[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
    u[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
  }
  for (int j = 0; j < 8; j += 4) {
    v[j] = _mm256_shuffle_ps(u[j], u[j + 2], _MM_SHUFFLE(1, 0, 1, 0));
    v[j + 1] = _mm256_shuffle_ps(u[j], u[j + 2], _MM_SHUFFLE(3, 2, 3, 2));
    v[j + 2] = _mm256_shuffle_ps(u[j + 1], u[j + 3], _MM_SHUFFLE(1, 0, 1, 0));
    v[j + 3] = _mm256_shuffle_ps(u[j + 1], u[j + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(v[j], v[j + 4], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(v[j], v[j + 4], 0x31);
  }
}

/// One decoded block of eight consecutive weight rows, w[j][s] = row j's
/// values 8s .. 8s + 7, stored transposed into the panel: dst[t * ld + j] for
/// the block's 32 positions t and rows j < 8 (dst points at the block's first
/// k-slice and the first of the eight rows).
inline void store_block_transposed(__m256 w[8][4], float* dst, int64_t ld) {
  for (int s = 0; s < 4; ++s) {
    __m256 t[8];
    for (int j = 0; j < 8; ++j) t[j] = w[j][s];
    transpose8(t);
    for (int u = 0; u < 8; ++u) _mm256_store_ps(dst + (8 * s + u) * ld, t[u]);
  }
}

}  // namespace qtune::native
