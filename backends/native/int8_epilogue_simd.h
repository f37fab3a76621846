// Private to the ISA files of backends/native (compiled with AVX2 or more):
// the reference's epilogue (int8_gemm.h) four outputs at a time, the same
// fp64 operations in the same order, so the same bits as apply_epilogue.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "backends/native/int8_gemm.h"

namespace qtune::native {

inline void apply_epilogue_avx2(const int32_t* acc, int64_t ld_acc, int64_t m0, int64_t rows,
                                int64_t n0, int64_t n1, const Int8Epilogue& e) {
  const int64_t vec_end = n0 + (n1 - n0) / 4 * 4;
  // activation_code (activation_code.h) four at a time: the same fp32
  // product and clamp; cvtps rounds half to even, as its adder trick does.
  const __m128 inv = _mm_set1_ps(e.code_inv_scale);
  const __m128 lo = _mm_set1_ps(-static_cast<float>(e.code_zero_point));
  const __m128 hi = _mm_set1_ps(255.0f - static_cast<float>(e.code_zero_point));
  const __m128i zp = _mm_set1_epi32(e.code_zero_point);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * ld_acc - n0;
    const int64_t row = (m0 + r) * e.ldy;
    for (int64_t n = n0; n < vec_end; n += 4) {
      __m256d v = _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + n)));
      v = _mm256_mul_pd(v, _mm256_loadu_pd(e.scale + n));
      // The reference rounds the product before adding the bias: an empty asm
      // keeps the compiler (-mfma, -ffp-contract=fast) from fusing the two.
      __asm__("" : "+x"(v));
      if (e.bias) v = _mm256_add_pd(v, _mm256_loadu_pd(e.bias + n));
      __m128 f = _mm256_cvtpd_ps(v);
      if (e.relu) f = _mm_max_ps(f, _mm_setzero_ps());
      if (e.codes) {
        const __m128 q = _mm_min_ps(_mm_max_ps(_mm_mul_ps(f, inv), lo), hi);
        const __m128i c = _mm_add_epi32(_mm_cvtps_epi32(q), zp);  // 0..255
        const __m128i bytes = _mm_packus_epi16(_mm_packus_epi32(c, c), c);
        const int32_t four = _mm_cvtsi128_si32(bytes);
        std::memcpy(e.codes + row + n, &four, sizeof(four));
      } else {
        _mm_storeu_ps(e.y + row + n, f);
      }
    }
  }
  if (vec_end < n1) apply_epilogue(acc + (vec_end - n0), ld_acc, m0, rows, vec_end, n1, e);
}

}  // namespace qtune::native
