// kInt8Activations on AVX2/FMA/F16C (no VNNI). Compiled with -mavx2 -mfma
// -mf16c (CMakeLists.txt qtune_isa_sources); no ATen here.
//
// A block is one ymm: 32 codes against 32 int8 activations. vpmaddubsw
// multiplies unsigned by signed bytes and adds pairs into int16 with
// saturation, so the operands are kept where no pair can saturate:
//   kU4: codes 0..15 and offsets 0..15 unsigned: |pair| <= 2 * 15 * 127.
//   kS8: codes -128..127 signed: |c| (0..128) times sign(q, c) (|q| <= 127,
//        never -128: q = nearbyint(x * 127 / amax)): |pair| <= 2 * 128 * 127.
// vpmaddwd with ones then adds pairs of int16 into 8 int32 lanes. Each lane
// holds sum over its 4 positions of (c - offset) * q exactly (the offset
// product is subtracted per lane, not per block, so each lane converted to
// fp32 is a partial sum of the real terms and no cancellation of large
// numbers happens in fp32). Lanes are scaled by d * activation scale into 8
// fp32 accumulators, reduced once per output.
//
// The loops over a tile's rows and activation rows are unrolled so that its
// accumulators stay in registers (see woq_gemm_avx512.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "backends/native/int8_tile_order.h"
#include "backends/native/isa_entries.h"
#include "common/error.h"

namespace qtune::native {

namespace {

constexpr int kChunk = 8;  ///< blocks whose scales are converted together (one ymm of fp16)
/// How far ahead of the loads the codes are prefetched: NR rows stream at
/// once, and the hardware prefetcher alone left a GEMV waiting on memory.
constexpr int64_t kPrefetchBlocks = 32;
/// From this many activation rows 4-bit codes take the GEMM of
/// int8_panel_avx2.cpp (bench_native BM_NativePath under QTUNE_MAX_ISA=avx2,
/// 2 threads, int4 g32, K = 4096 and 14336: these tiles were faster on both
/// at M = 8, one each at M = 12, the panel GEMM on both at M = 16).
constexpr int64_t kPanelMinM = 16;

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

/// Codes of one kU4 block as 32 unsigned bytes in position order.
__attribute__((always_inline)) inline __m256i load_u4(const uint8_t* p) {
  const __m256i both =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  // Low nibbles are positions 0..15 (lower half), high nibbles 16..31 (upper half).
  const __m256i shifted = _mm256_srlv_epi64(both, _mm256_set_epi64x(4, 4, 0, 0));
  return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0F));
}

/// 8 int32 lanes of sum (u - o) * q, u, o unsigned bytes <= 15.
__attribute__((always_inline)) inline __m256i lanes_u4(__m256i u, __m256i opair, __m256i q) {
  const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(u, q), opair);
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/// 8 int32 lanes of sum c * q, c and q signed bytes (|q| <= 127).
__attribute__((always_inline)) inline __m256i lanes_s8(__m256i c, __m256i q) {
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(c), _mm256_sign_epi8(q, c));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/// The scales of up to kChunk blocks starting at b, zero-padded: d * activation
/// scale per (row, activation row), and the mins (fp16) when has_min.
template <int NR, int MR>
struct ChunkScales {
  alignas(32) float da[NR][MR][kChunk];
  alignas(32) float m[NR][kChunk];
  alignas(32) float sum[MR][kChunk];
};

template <int NR, int MR>
__attribute__((always_inline)) inline void load_scales(const PackedWeight& w,
                                                       const PreparedActivations& a, int64_t r,
                                                       int64_t i, int64_t b, int n,
                                                       ChunkScales<NR, MR>* s) {
  // A partial chunk goes through zero-padded copies; the padding's da is 0.
  const auto load_h = [n](const uint16_t* p) {
    if (n == kChunk) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    alignas(16) uint16_t h[kChunk] = {};
    std::copy_n(p, n, h);
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h)));
  };
  const auto load_f = [n](const float* p) {
    if (n == kChunk) return _mm256_loadu_ps(p);
    alignas(32) float f[kChunk] = {};
    std::copy_n(p, n, f);
    return _mm256_load_ps(f);
  };
  __m256 as[MR];
#pragma GCC unroll 8
  for (int t = 0; t < MR; ++t) as[t] = load_f(a.scale.data() + (i + t) * w.blocks + b);
#pragma GCC unroll 8
  for (int k = 0; k < NR; ++k) {
    const __m256 d = load_h(w.d.data() + (r + k) * w.blocks + b);
#pragma GCC unroll 8
    for (int t = 0; t < MR; ++t) _mm256_store_ps(s->da[k][t], _mm256_mul_ps(d, as[t]));
    if (w.has_min) _mm256_store_ps(s->m[k], load_h(w.m.data() + (r + k) * w.blocks + b));
  }
  if (w.has_min)
#pragma GCC unroll 8
    for (int t = 0; t < MR; ++t)
      _mm256_store_ps(s->sum[t], load_f(a.sum.data() + (i + t) * w.blocks + b));
}

/// y[i..i+MR, r..r+NR] for one tile of rows and activation rows.
template <CodeFormat F, bool kZero, int NR, int MR>
void tile(const PackedWeight& w, const PreparedActivations& a, const float* bias, float* y,
          int64_t ldy, int64_t r, int64_t i) {
  constexpr int64_t bpb = F == CodeFormat::kS8 ? 32 : 16;
  const uint8_t* codes[NR];
#pragma GCC unroll 8
  for (int k = 0; k < NR; ++k) codes[k] = w.codes.data.get() + (r + k) * w.blocks * bpb;
  const int8_t* q[MR];
#pragma GCC unroll 8
  for (int t = 0; t < MR; ++t) q[t] = a.q.data() + (i + t) * a.padded_cols;
  __m256 acc[NR][MR];
#pragma GCC unroll 8
  for (int k = 0; k < NR; ++k)
#pragma GCC unroll 8
    for (int t = 0; t < MR; ++t) acc[k][t] = _mm256_setzero_ps();
  ChunkScales<NR, MR> s;
  const __m256i const_off = _mm256_set1_epi8(static_cast<char>(w.code_offset));
  for (int64_t b0 = 0; b0 < w.blocks; b0 += kChunk) {
    const int n = static_cast<int>(std::min<int64_t>(kChunk, w.blocks - b0));
    load_scales<NR, MR>(w, a, r, i, b0, n, &s);
    if (w.has_min)
#pragma GCC unroll 8
      for (int k = 0; k < NR; ++k)
#pragma GCC unroll 8
        for (int t = 0; t < MR; ++t)
          acc[k][t] = _mm256_fmadd_ps(_mm256_load_ps(s.m[k]), _mm256_load_ps(s.sum[t]), acc[k][t]);
    for (int j = 0; j < n; ++j) {
      const int64_t b = b0 + j;
      __m256i qv[MR];
#pragma GCC unroll 8
      for (int t = 0; t < MR; ++t)
        qv[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[t] + b * kBlock));
      if constexpr (F == CodeFormat::kU4) {
        __m256i opair[MR];  // offset pair sums; a constant offset shares them over the rows
        if constexpr (!kZero)
#pragma GCC unroll 8
          for (int t = 0; t < MR; ++t) opair[t] = _mm256_maddubs_epi16(const_off, qv[t]);
#pragma GCC unroll 8
        for (int k = 0; k < NR; ++k) {
          _mm_prefetch(reinterpret_cast<const char*>(codes[k] + (b + kPrefetchBlocks) * bpb),
                       _MM_HINT_T0);
          const __m256i u = load_u4(codes[k] + b * bpb);
          if constexpr (kZero) {
            const __m256i z = _mm256_set1_epi8(static_cast<char>(w.zero[(r + k) * w.blocks + b]));
#pragma GCC unroll 8
            for (int t = 0; t < MR; ++t) opair[t] = _mm256_maddubs_epi16(z, qv[t]);
          }
#pragma GCC unroll 8
          for (int t = 0; t < MR; ++t) {
            const __m256 f = _mm256_cvtepi32_ps(lanes_u4(u, opair[t], qv[t]));
            acc[k][t] = _mm256_fmadd_ps(f, _mm256_broadcast_ss(&s.da[k][t][j]), acc[k][t]);
          }
        }
      } else {
#pragma GCC unroll 8
        for (int k = 0; k < NR; ++k) {
          _mm_prefetch(reinterpret_cast<const char*>(codes[k] + (b + kPrefetchBlocks) * bpb),
                       _MM_HINT_T0);
          const __m256i c =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes[k] + b * bpb));
          __m256i off = const_off;
          if constexpr (kZero)
            off =
                _mm256_set1_epi8(static_cast<char>(w.code_offset + w.zero[(r + k) * w.blocks + b]));
#pragma GCC unroll 8
          for (int t = 0; t < MR; ++t) {
            __m256i lanes = lanes_s8(c, qv[t]);
            // Apart from the code product: |c * q| and |offset * q| pairs each fit int16, not
            // their difference.
            if (kZero || w.code_offset != 0) lanes = _mm256_sub_epi32(lanes, lanes_s8(off, qv[t]));
            const __m256 f = _mm256_cvtepi32_ps(lanes);
            acc[k][t] = _mm256_fmadd_ps(f, _mm256_broadcast_ss(&s.da[k][t][j]), acc[k][t]);
          }
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int k = 0; k < NR; ++k)
#pragma GCC unroll 8
    for (int t = 0; t < MR; ++t)
      y[(i + t) * ldy + r + k] = w.global_scale * hsum(acc[k][t]) + (bias ? bias[r + k] : 0.0f);
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

void int8_prepare_avx2(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
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
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t b = 0; b < w.blocks; ++b) {
      alignas(32) float buf[kBlock];
      const float* xb = x + i * ldx + b * kBlock;
      if (!w.column_of.empty() || (b + 1) * kBlock > w.cols) {
        for (int j = 0; j < kBlock; ++j) {
          const int64_t p = b * kBlock + j;
          const int64_t col = w.column_of.empty() ? (p < w.cols ? p : -1) : w.column_of[p];
          buf[j] = col < 0 ? 0.0f : x[i * ldx + col];
        }
        xb = buf;
      }
      __m256 v[4];
      for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(xb + 8 * k);
      const __m256 mx = _mm256_max_ps(
          _mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
          _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
      const float amax = _mm_cvtss_f32(m4);
      // The same two fp32 operations as the reference: identical q on every ISA.
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      const __m256 vinv = _mm256_set1_ps(inv);
      __m256i qi[4];
      for (int k = 0; k < 4; ++k) qi[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vinv));
      // int32 -> int8 keeps per-128-bit-lane order; the permute restores position order.
      const __m256i w16a = _mm256_packs_epi32(qi[0], qi[1]);
      const __m256i w16b = _mm256_packs_epi32(qi[2], qi[3]);
      const __m256i w8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w16a, w16b),
                                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a->q.data() + i * a->padded_cols + b * kBlock),
                          w8);
      a->scale[i * w.blocks + b] = amax / 127.0f;
      a->code_sum[i * w.blocks + b] = hsum_epi32(
          _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3])));
      a->sum[i * w.blocks + b] =
          hsum(_mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3])));
    }
}

void int8_gemm_rows_avx2(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                         float* y, int64_t ldy, int64_t r0, int64_t r1) {
  QT_ASSERT(a.padded_cols == w.padded_cols());
  if (a.m >= kPanelMinM && w.format == CodeFormat::kU4)
    return int8_panel_rows_avx2(w, a, bias, y, ldy, r0, r1);
  if (w.format == CodeFormat::kU4) {
    QT_ASSERT(w.code_offset >= 0 && w.code_offset <= 15 && (!w.has_zero || w.code_offset == 0),
              "kU4 offsets must be unsigned 4-bit");
    if (w.has_zero)
      gemm_rows_for<CodeFormat::kU4, true>(w, a, bias, y, ldy, r0, r1);
    else
      gemm_rows_for<CodeFormat::kU4, false>(w, a, bias, y, ldy, r0, r1);
  } else {
    QT_ASSERT(w.format == CodeFormat::kS8, "int8-act path on a table format");
    // repack keeps code_offset + zero within int8 (packed_weight.h).
    QT_ASSERT(w.code_offset >= -128 && w.code_offset <= (w.has_zero ? 0 : 127));
    if (w.has_zero)
      gemm_rows_for<CodeFormat::kS8, true>(w, a, bias, y, ldy, r0, r1);
    else
      gemm_rows_for<CodeFormat::kS8, false>(w, a, bias, y, ldy, r0, r1);
  }
}

}  // namespace qtune::native
