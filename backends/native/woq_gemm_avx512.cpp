// kInt8Activations on AVX-512 F/BW/VL/VNNI. Compiled with the AVX-512 flags
// (CMakeLists.txt qtune_isa_sources); no ATen here.
//
// A step covers 4 blocks of a row: one 64-byte load of 4-bit codes (kU4),
// split into the low nibbles (positions 0-15 of each block) and the high ones
// (16-31), against the activations of the same positions, which are
// regrouped once per step and shared by the tile's rows. vpdpbusd multiplies
// unsigned by signed bytes and adds groups of 4 into int32 lanes without
// intermediate saturation. Codes are made unsigned (kS8: c + 128) and the
// offset is folded in per lane by starting from a vpdpbusd of the unsigned
// offset (offset, + 128 for kS8: 0..255) against -q (|q| <= 127 so -q is an
// int8): each lane = sum over its positions of (c - offset) * q, exact. The
// lanes converted to fp32 are scaled by d * activation scale of their block
// into one fp32 accumulator per output, reduced once at the end.
//
// The loops over the tile's rows and activation rows are unrolled so that
// the accumulators live in registers: left to GCC, they stayed on the stack
// and every step waited on a store and a reload (in-cache throughput 2.5x
// lower, measured with a 256 x 4096 layer on one thread).
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "backends/native/int8_tile_order.h"
#include "backends/native/isa_entries.h"
#include "common/error.h"

namespace qtune::native {

namespace {

constexpr int kChunk = 16;  ///< blocks whose scales are converted together (one zmm of fp32)
constexpr int kQuad = 4;    ///< blocks per step: 64 bytes of 4-bit codes, one cache line
constexpr int64_t kPrefetchBlocks = 32;  ///< how far ahead of the loads the codes are prefetched
/// From this many activation rows the GEMM of int8_panel_avx512.cpp takes
/// over (bench_native BM_NativePath, 2 threads, int4 g32 and int8, K = 4096
/// and 14336: at M = 8 these tiles were as fast or faster on three of the
/// four, at M = 12 the panel GEMM was faster on all four, by 7-25%).
constexpr int64_t kPanelMinM = 12;

__mmask64 first_bytes(int64_t n) { return n >= 64 ? ~0ull : n <= 0 ? 0ull : (1ull << n) - 1; }

/// The activations of blocks b..b+nb-1 (nb <= 4) of one row in the lanes the
/// codes of the same blocks occupy (zero past nb):
///   kU4: qa 128-bit lane k = q of block b+k, positions 0..15; qb = 16..31
///        (a code byte holds positions j and j + 16 of its block);
///   kS8: the natural order, qa = blocks b, b+1 and qb = blocks b+2, b+3.
template <CodeFormat F>
__attribute__((always_inline)) inline void load_quad_activations(const int8_t* q, int nb,
                                                                 __m512i* qa, __m512i* qb) {
  const int64_t bytes = nb * kBlock;
  // Unmasked loads where the step is whole: measurably faster in cache.
  const __m512i z0 =
      nb == kQuad ? _mm512_loadu_si512(q) : _mm512_maskz_loadu_epi8(first_bytes(bytes), q);
  const __m512i z1 = nb == kQuad ? _mm512_loadu_si512(q + 64)
                                 : _mm512_maskz_loadu_epi8(first_bytes(bytes - 64), q + 64);
  if constexpr (F == CodeFormat::kU4) {
    *qa = _mm512_shuffle_i64x2(z0, z1, _MM_SHUFFLE(2, 0, 2, 0));
    *qb = _mm512_shuffle_i64x2(z0, z1, _MM_SHUFFLE(3, 1, 3, 1));
  } else {
    *qa = z0;
    *qb = z1;
  }
}

/// y[i..i+MR, r..r+NR] for one tile of rows and activation rows.
///
/// Per step of 4 blocks and row, the int32 lanes of a zmm collect the code
/// products of one block each (kU4: lane k*4..k*4+3 = block b+k; kS8: two zmm
/// of 8 lanes per block), starting from -offset * q so that each lane sums
/// (c - offset) * q exactly. The lanes then meet d * activation scale of their
/// block, spread from one zmm that holds the chunk's 16 block scales.
template <CodeFormat F, bool kZero, int NR, int MR>
void tile(const PackedWeight& w, const PreparedActivations& a, const float* bias, float* y,
          int64_t ldy, int64_t r, int64_t i) {
  constexpr int64_t bpb = F == CodeFormat::kS8 ? 32 : 16;
  constexpr int kBias = F == CodeFormat::kS8 ? 128 : 0;  // added to codes and offsets
  constexpr int kLanesPerBlock = F == CodeFormat::kS8 ? 8 : 4;
  const uint8_t* codes[NR];
  const uint16_t* d[NR];
#pragma GCC unroll 8
  for (int k = 0; k < NR; ++k) {
    codes[k] = w.codes.data.get() + (r + k) * w.blocks * bpb;
    d[k] = w.d.data() + (r + k) * w.blocks;
  }
  const int8_t* q[MR];
#pragma GCC unroll 8
  for (int t = 0; t < MR; ++t) q[t] = a.q.data() + (i + t) * a.padded_cols;
  __m512 acc[NR][MR];
#pragma GCC unroll 8
  for (int k = 0; k < NR; ++k)
#pragma GCC unroll 8
    for (int t = 0; t < MR; ++t) acc[k][t] = _mm512_setzero_ps();
  const __m512i const_off = _mm512_set1_epi8(static_cast<char>(w.code_offset + kBias));
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  const __m512i lane_block =
      _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                        kLanesPerBlock == 4 ? 2 : 3);
  // Zero points: byte picks that spread zero[b + k] over the lanes of block b + k.
  const __m512i zero_pick_a =
      F == CodeFormat::kU4
          ? _mm512_set_epi32(0x03030303, 0x03030303, 0x03030303, 0x03030303, 0x02020202, 0x02020202,
                             0x02020202, 0x02020202, 0x01010101, 0x01010101, 0x01010101, 0x01010101,
                             0, 0, 0, 0)
          : _mm512_set_epi32(0x01010101, 0x01010101, 0x01010101, 0x01010101, 0x01010101, 0x01010101,
                             0x01010101, 0x01010101, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i zero_pick_b = _mm512_add_epi8(zero_pick_a, _mm512_set1_epi8(2));
  for (int64_t b0 = 0; b0 < w.blocks; b0 += kChunk) {
    const int n = static_cast<int>(std::min<int64_t>(kChunk, w.blocks - b0));
    const __mmask16 chunk_mask = static_cast<__mmask16>((1u << n) - 1);
    __m512 ds[NR][MR];  // d * activation scale of the chunk's blocks
    __m512 as[MR];
#pragma GCC unroll 8
    for (int t = 0; t < MR; ++t)
      as[t] = _mm512_maskz_loadu_ps(chunk_mask, a.scale.data() + (i + t) * w.blocks + b0);
#pragma GCC unroll 8
    for (int k = 0; k < NR; ++k) {
      const __m512 dk = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(chunk_mask, d[k] + b0));
#pragma GCC unroll 8
      for (int t = 0; t < MR; ++t) ds[k][t] = _mm512_mul_ps(dk, as[t]);
      if (w.has_min) {
        const __m512 mk = _mm512_cvtph_ps(
            _mm256_maskz_loadu_epi16(chunk_mask, w.m.data() + (r + k) * w.blocks + b0));
#pragma GCC unroll 8
        for (int t = 0; t < MR; ++t)
          acc[k][t] = _mm512_fmadd_ps(
              mk, _mm512_maskz_loadu_ps(chunk_mask, a.sum.data() + (i + t) * w.blocks + b0),
              acc[k][t]);
      }
    }
    for (int j = 0; j < n; j += kQuad) {
      const int64_t b = b0 + j;
      const int nb = std::min(kQuad, n - j);
      const __m512i idx_a = _mm512_add_epi32(lane_block, _mm512_set1_epi32(j));
      const __m512i idx_b = _mm512_add_epi32(idx_a, _mm512_set1_epi32(2));
      __m512i qa[MR], qb[MR], nqa[MR], nqb[MR], base_a[MR], base_b[MR];
#pragma GCC unroll 8
      for (int t = 0; t < MR; ++t) {
        load_quad_activations<F>(q[t] + b * kBlock, nb, &qa[t], &qb[t]);
        nqa[t] = _mm512_sub_epi8(_mm512_setzero_si512(), qa[t]);
        nqb[t] = _mm512_sub_epi8(_mm512_setzero_si512(), qb[t]);
        if constexpr (!kZero) {
          base_a[t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), const_off, nqa[t]);
          if constexpr (F == CodeFormat::kU4)
            base_a[t] = _mm512_dpbusd_epi32(base_a[t], const_off, nqb[t]);
          else
            base_b[t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), const_off, nqb[t]);
        }
      }
#pragma GCC unroll 8
      for (int k = 0; k < NR; ++k) {
        // NR rows stream at once; the hardware prefetcher alone left the
        // loads of a GEMV waiting on memory (perf: the first use of the codes
        // was the hottest instruction).
        // A step reads kQuad * bpb bytes: one line of kU4 codes, two of kS8.
        const char* ahead = reinterpret_cast<const char*>(codes[k] + (b + kPrefetchBlocks) * bpb);
        _mm_prefetch(ahead, _MM_HINT_T0);
        if constexpr (F == CodeFormat::kS8) _mm_prefetch(ahead + 64, _MM_HINT_T0);
        __m512i ca, cb;
        if constexpr (F == CodeFormat::kU4) {
          const __m512i v =
              nb == kQuad ? _mm512_loadu_si512(codes[k] + b * bpb)
                          : _mm512_maskz_loadu_epi8(first_bytes(nb * bpb), codes[k] + b * bpb);
          ca = _mm512_and_si512(v, nibble);
          cb = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
        } else {
          // c + 128 as unsigned; missing blocks read 128 against q = 0.
          const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
          const uint8_t* p = codes[k] + b * bpb;
          const bool whole = nb == kQuad;
          ca = _mm512_xor_si512(
              whole ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(first_bytes(nb * bpb), p),
              flip);
          cb = _mm512_xor_si512(whole ? _mm512_loadu_si512(p + 64)
                                      : _mm512_maskz_loadu_epi8(first_bytes(nb * bpb - 64), p + 64),
                                flip);
        }
        __m512i zoff_a, zoff_b;
        if constexpr (kZero) {
          const __m512i z = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(
              static_cast<__mmask16>((1u << nb) - 1), w.zero.data() + (r + k) * w.blocks + b));
          zoff_a = _mm512_add_epi8(_mm512_shuffle_epi8(z, zero_pick_a), const_off);
          zoff_b = _mm512_add_epi8(_mm512_shuffle_epi8(z, zero_pick_b), const_off);
        }
#pragma GCC unroll 8
        for (int t = 0; t < MR; ++t) {
          if constexpr (F == CodeFormat::kU4) {
            __m512i lanes = kZero ? _mm512_dpbusd_epi32(
                                        _mm512_dpbusd_epi32(_mm512_setzero_si512(), zoff_a, nqa[t]),
                                        zoff_a, nqb[t])
                                  : base_a[t];
            lanes = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(lanes, ca, qa[t]), cb, qb[t]);
            acc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes),
                                        _mm512_permutexvar_ps(idx_a, ds[k][t]), acc[k][t]);
          } else {
            const __m512i la = _mm512_dpbusd_epi32(
                kZero ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), zoff_a, nqa[t]) : base_a[t], ca,
                qa[t]);
            const __m512i lb = _mm512_dpbusd_epi32(
                kZero ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), zoff_b, nqb[t]) : base_b[t], cb,
                qb[t]);
            acc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(la),
                                        _mm512_permutexvar_ps(idx_a, ds[k][t]), acc[k][t]);
            acc[k][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lb),
                                        _mm512_permutexvar_ps(idx_b, ds[k][t]), acc[k][t]);
          }
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int k = 0; k < NR; ++k)
#pragma GCC unroll 8
    for (int t = 0; t < MR; ++t)
      y[(i + t) * ldy + r + k] =
          w.global_scale * _mm512_reduce_add_ps(acc[k][t]) + (bias ? bias[r + k] : 0.0f);
}

/// tile<F, kZero, R, A> over one call's range, in for_each_int8_tile's order.
template <CodeFormat F, bool kZero>
struct Tiles {
  const PackedWeight& w;
  const PreparedActivations& a;
  const float* bias;
  float* y;
  int64_t ldy;
  template <int R, int A>
  void run(int64_t r, int64_t i) const {
    tile<F, kZero, R, A>(w, a, bias, y, ldy, r, i);
  }
};

template <CodeFormat F, bool kZero>
void gemm_rows_for(const PackedWeight& w, const PreparedActivations& a, const float* bias, float* y,
                   int64_t ldy, int64_t r0, int64_t r1) {
  for_each_int8_tile</*kGemvRows=*/8, /*kRows=*/4, /*kActs=*/2>(
      a.m, r0, r1, Tiles<F, kZero>{w, a, bias, y, ldy});
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
  if (a.m >= kPanelMinM && int8_gemm_serves(w.format, w.has_zero))
    return int8_panel_rows_avx512(w, a, bias, y, ldy, r0, r1);
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
