// kInt8Activations on AVX-512 F/BW/VL/VNNI. Compiled with the AVX-512 flags
// (CMakeLists.txt qtune_isa_sources); no ATen here.
//
// One zmm holds two blocks (64 codes against 64 int8 activations). vpdpbusd
// multiplies unsigned by signed bytes and adds groups of 4 into int32 lanes
// without intermediate saturation. Codes are made unsigned (kS8: c + 128) and
// the offset is folded in per lane with a second vpdpbusd of the unsigned
// offset (offset, + 128 for kS8: 0..255) against -q (|q| <= 127 so -q is an
// int8): lane = sum over its 4 positions of (c - offset) * q, exact. Each
// lane converted to fp32 is then a partial sum of the real terms, scaled by
// d * activation scale of its block into 16 fp32 accumulators, reduced once
// per output.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "backends/native/isa_entries.h"
#include "common/error.h"

namespace qtune::native {

namespace {

constexpr int kChunk = 8;  ///< blocks whose scales are converted together (one ymm of fp16)
constexpr int64_t kPrefetchBlocks = 32;  ///< how far ahead of the loads the codes are prefetched

/// Up to kChunk fp16 values from p, zero-padded, as fp32.
__m256 load_h(const uint16_t* p, int n) {
  const __mmask8 mask = static_cast<__mmask8>((1u << n) - 1);
  return _mm256_cvtph_ps(_mm_maskz_loadu_epi16(mask, p));
}

/// Up to kChunk floats from p, zero-padded.
__m256 load_f(const float* p, int n) {
  return _mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << n) - 1), p);
}

/// Codes of blocks b, b+1 (`two` false: b only, the rest 0) as 64 unsigned bytes.
template <CodeFormat F>
__m512i load_codes(const uint8_t* p, bool two) {
  if constexpr (F == CodeFormat::kU4) {
    const __m256i raw = _mm256_maskz_loadu_epi8(two ? ~0u : 0xFFFFu, p);
    // qwords of the two 16-byte blocks: [b lo, b lo, b+1 lo, b+1 lo]; the upper
    // copy of each block is shifted by 4 to bring its high nibbles down.
    const __m512i spread = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3),
                                                    _mm512_castsi256_si512(raw));
    const __m512i shifted = _mm512_srlv_epi64(spread, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
    return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0F));
  } else {
    const __m512i raw = _mm512_maskz_loadu_epi8(two ? ~0ull : 0xFFFFFFFFull, p);
    // c + 128 as unsigned; the padding block (zero codes) becomes 128 against q = 0.
    return _mm512_xor_si512(raw, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
}

/// [v[j] x8 | v[j+1] x8]: the scale of each of a pair's blocks over its 8
/// lanes; `idx` = pair_index(j), built once per pair and shared by the tile.
__m512i pair_index(int j) {
  return _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                          _mm512_set1_epi32(j));
}

/// y[i..i+MR, r..r+NR] for one tile of rows and activation rows.
template <CodeFormat F, bool kZero, int NR, int MR>
void tile(const PackedWeight& w, const PreparedActivations& a, const float* bias, float* y,
          int64_t ldy, int64_t r, int64_t i) {
  constexpr int64_t bpb = F == CodeFormat::kS8 ? 32 : 16;
  constexpr int kBias = F == CodeFormat::kS8 ? 128 : 0;  // added to codes and offsets
  const uint8_t* codes[NR];
  const uint16_t* d[NR];
  for (int k = 0; k < NR; ++k) {
    codes[k] = w.codes.data.get() + (r + k) * w.blocks * bpb;
    d[k] = w.d.data() + (r + k) * w.blocks;
  }
  const int8_t* q[MR];
  for (int t = 0; t < MR; ++t) q[t] = a.q.data() + (i + t) * a.padded_cols;
  __m512 acc[NR][MR];
  for (int k = 0; k < NR; ++k)
    for (int t = 0; t < MR; ++t) acc[k][t] = _mm512_setzero_ps();
  const __m512i const_off = _mm512_set1_epi8(static_cast<char>(w.code_offset + kBias));
  // Within each 128-bit lane, byte 0 (lower 256 bits) or byte 1 (upper 256 bits)
  // of a broadcast pair of zero points.
  const __m512i zero_pick = _mm512_set_epi64(0x0101010101010101, 0x0101010101010101,
                                             0x0101010101010101, 0x0101010101010101, 0, 0, 0, 0);
  for (int64_t b0 = 0; b0 < w.blocks; b0 += kChunk) {
    const int n = static_cast<int>(std::min<int64_t>(kChunk, w.blocks - b0));
    __m512 as[MR], sum[MR];
    for (int t = 0; t < MR; ++t) {
      as[t] = _mm512_castps256_ps512(load_f(a.scale.data() + (i + t) * w.blocks + b0, n));
      if (w.has_min)
        sum[t] = _mm512_castps256_ps512(load_f(a.sum.data() + (i + t) * w.blocks + b0, n));
    }
    __m512 da[NR][MR];  // d * activation scale of the chunk's blocks (lanes 0..7)
    for (int k = 0; k < NR; ++k) {
      const __m512 dk = _mm512_castps256_ps512(load_h(d[k] + b0, n));
      for (int t = 0; t < MR; ++t) da[k][t] = _mm512_mul_ps(dk, as[t]);
      if (w.has_min) {
        const __m256 mk = load_h(w.m.data() + (r + k) * w.blocks + b0, n);
        for (int t = 0; t < MR; ++t)
          acc[k][t] = _mm512_add_ps(
              acc[k][t], _mm512_zextps256_ps512(_mm256_mul_ps(mk, _mm512_castps512_ps256(sum[t]))));
      }
    }
    for (int j = 0; j < n; j += 2) {
      const int64_t b = b0 + j;
      const bool two = j + 1 < n;
      const __m512i idx = pair_index(j);
      __m512i qv[MR], negq[MR], base[MR];
      for (int t = 0; t < MR; ++t) {
        qv[t] = _mm512_maskz_loadu_epi8(two ? ~0ull : 0xFFFFFFFFull, q[t] + b * kBlock);
        negq[t] = _mm512_sub_epi8(_mm512_setzero_si512(), qv[t]);
        if constexpr (!kZero)
          base[t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), const_off, negq[t]);
      }
      for (int k = 0; k < NR; ++k) {
        // NR rows stream at once; the hardware prefetcher alone left the
        // loads of a GEMV waiting on memory (perf: the first use of the codes
        // was the hottest instruction).
        _mm_prefetch(reinterpret_cast<const char*>(codes[k] + (b + kPrefetchBlocks) * bpb),
                     _MM_HINT_T0);
        const __m512i u = load_codes<F>(codes[k] + b * bpb, two);
        __m512i zoff;
        if constexpr (kZero) {
          const uint8_t* z = w.zero.data() + (r + k) * w.blocks + b;
          const uint16_t pair = static_cast<uint16_t>(z[0] | (two ? z[1] << 8 : 0));
          zoff = _mm512_add_epi8(
              _mm512_shuffle_epi8(_mm512_set1_epi16(static_cast<short>(pair)), zero_pick),
              const_off);
        }
        for (int t = 0; t < MR; ++t) {
          __m512i lanes;
          if constexpr (kZero)
            lanes = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), zoff, negq[t]),
                                        u, qv[t]);
          else
            lanes = _mm512_dpbusd_epi32(base[t], u, qv[t]);
          acc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes),
                                      _mm512_permutexvar_ps(idx, da[k][t]), acc[k][t]);
        }
      }
    }
  }
  for (int k = 0; k < NR; ++k)
    for (int t = 0; t < MR; ++t)
      y[(i + t) * ldy + r + k] =
          w.global_scale * _mm512_reduce_add_ps(acc[k][t]) + (bias ? bias[r + k] : 0.0f);
}

template <CodeFormat F, bool kZero>
void gemm_rows_for(const PackedWeight& w, const PreparedActivations& a, const float* bias, float* y,
                   int64_t ldy, int64_t r0, int64_t r1) {
  constexpr int NR = 4, MR = 2;
  int64_t r = r0;
  for (; r + NR <= r1; r += NR) {
    int64_t i = 0;
    for (; i + MR <= a.m; i += MR) tile<F, kZero, NR, MR>(w, a, bias, y, ldy, r, i);
    for (; i < a.m; ++i) tile<F, kZero, NR, 1>(w, a, bias, y, ldy, r, i);
  }
  for (; r < r1; ++r) {
    int64_t i = 0;
    for (; i + MR <= a.m; i += MR) tile<F, kZero, 1, MR>(w, a, bias, y, ldy, r, i);
    for (; i < a.m; ++i) tile<F, kZero, 1, 1>(w, a, bias, y, ldy, r, i);
  }
}

}  // namespace

void int8_prepare_avx512(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
                         PreparedActivations* a) {
  a->m = m;
  a->padded_cols = w.padded_cols();
  const auto grow = [](auto& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(n);
  };
  grow(a->q, m * a->padded_cols);
  grow(a->scale, m * w.blocks);
  grow(a->code_sum, m * w.blocks);
  grow(a->sum, m * w.blocks);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t b = 0; b < w.blocks; ++b) {
      alignas(64) float buf[kBlock];
      const float* xb = x + i * ldx + b * kBlock;
      if (!w.column_of.empty() || (b + 1) * kBlock > w.cols) {
        for (int j = 0; j < kBlock; ++j) {
          const int64_t p = b * kBlock + j;
          const int64_t col = w.column_of.empty() ? (p < w.cols ? p : -1) : w.column_of[p];
          buf[j] = col < 0 ? 0.0f : x[i * ldx + col];
        }
        xb = buf;
      }
      const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
      // The same two fp32 operations as the reference: identical q on every ISA.
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      const __m512 vinv = _mm512_set1_ps(inv);
      const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vinv));
      const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vinv));
      int8_t* qb = a->q.data() + i * a->padded_cols + b * kBlock;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb), _mm512_cvtsepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + 16), _mm512_cvtsepi32_epi8(q1));
      a->scale[i * w.blocks + b] = amax / 127.0f;
      a->code_sum[i * w.blocks + b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
      a->sum[i * w.blocks + b] = _mm512_reduce_add_ps(_mm512_add_ps(v0, v1));
    }
}

void int8_gemm_rows_avx512(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                           float* y, int64_t ldy, int64_t r0, int64_t r1) {
  QT_ASSERT(a.padded_cols == w.padded_cols());
  if (w.format == CodeFormat::kU4) {
    QT_ASSERT(w.code_offset >= 0 && w.code_offset <= 15 && (!w.has_zero || w.code_offset == 0),
              "kU4 offsets must be unsigned 4-bit");
    if (w.has_zero)
      gemm_rows_for<CodeFormat::kU4, true>(w, a, bias, y, ldy, r0, r1);
    else
      gemm_rows_for<CodeFormat::kU4, false>(w, a, bias, y, ldy, r0, r1);
  } else {
    QT_ASSERT(w.format == CodeFormat::kS8, "int8-act path on a table format");
    // repack keeps code_offset + zero within int8 (packed_weight.h), so + 128 is a byte.
    QT_ASSERT(w.code_offset >= -128 && w.code_offset <= (w.has_zero ? 0 : 127));
    if (w.has_zero)
      gemm_rows_for<CodeFormat::kS8, true>(w, a, bias, y, ldy, r0, r1);
    else
      gemm_rows_for<CodeFormat::kS8, false>(w, a, bias, y, ldy, r0, r1);
  }
}

}  // namespace qtune::native
