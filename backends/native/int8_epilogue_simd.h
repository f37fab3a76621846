// Private to the ISA files of backends/native (compiled with AVX2 or more):
// the reference's epilogue (int8_gemm.h) four outputs at a time, the same
// fp64 operations in the same order, so the same bits as apply_epilogue.
#pragma once

#include <immintrin.h>

#include "backends/native/int8_gemm.h"

namespace qtune::native {

inline void apply_epilogue_avx2(const int32_t* acc, int64_t ld_acc, int64_t m0, int64_t rows,
                                int64_t n0, int64_t n1, const Int8Epilogue& e) {
  const int64_t vec_end = n0 + (n1 - n0) / 4 * 4;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * ld_acc - n0;
    float* y = e.y + (m0 + r) * e.ldy;
    for (int64_t n = n0; n < vec_end; n += 4) {
      __m256d v = _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + n)));
      v = _mm256_mul_pd(v, _mm256_loadu_pd(e.scale + n));
      // The reference rounds the product before adding the bias: an empty asm
      // keeps the compiler (-mfma, -ffp-contract=fast) from fusing the two.
      __asm__("" : "+x"(v));
      if (e.bias) v = _mm256_add_pd(v, _mm256_loadu_pd(e.bias + n));
      __m128 f = _mm256_cvtpd_ps(v);
      if (e.relu) f = _mm_max_ps(f, _mm_setzero_ps());
      _mm_storeu_ps(y + n, f);
    }
  }
  if (vec_end < n1) apply_epilogue(acc + (vec_end - n0), ld_acc, m0, rows, vec_end, n1, e);
}

}  // namespace qtune::native
