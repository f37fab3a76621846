// kInt8Activations on AVX2 for many activation rows, 4-bit codes: the GEMM
// twin of int8_panel_avx512.cpp without VNNI. The register tile is 16 weight
// rows (two ymm, one 32-bit lane per row: 4 positions) by kMR activation rows.
//
// Per chunk of kKC positions and 16 rows, the codes are decoded once into a
// panel of unsigned bytes c (0..15) laid out [block][step][row][4 positions],
// with per block and row the offset (code_offset + zero) as int32 and d as
// fp32. vpmaddubsw multiplies the codes (unsigned) by the activations q
// (signed, |q| <= 127) and adds pairs into int16: |pair| <= 2 * 15 * 127, and
// the 8 steps of a block summed in int16 stay below 16 * 15 * 127 = 30480 <
// 2^15, so a block needs one vpmaddwd (with ones) to reach int32: a lane ends
// at dot(c, q) of its row's block, from which offset * code_sum is subtracted
// in int32: the reference's integer, exactly. The fp32 part is the
// reference's: acc += d * scale * isum (+ m * sum), one chain per output over
// the blocks in order, partial sums parked in y between chunks.
//
// kS8 codes (|c| up to 128) would saturate the int16 sums: not served.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/native/accumulator_tile_simd.h"
#include "backends/native/isa_entries.h"
#include "common/error.h"

namespace qtune::native {

namespace {

constexpr int kNR = 16;             ///< panel rows: two ymm of 32-bit lanes
constexpr int kMR = 3;              ///< activation rows per micro-kernel
constexpr int kSteps = kBlock / 4;  ///< vpmaddubsw per block: 4 positions each
constexpr int64_t kKC = 512;        ///< positions per chunk: an 8 KB code panel
constexpr int64_t kKCBlocks = kKC / kBlock;

/// One chunk of 16 decoded rows.
struct Panel {
  alignas(32) uint8_t c[kKCBlocks][kSteps][kNR][4];
  alignas(32) int32_t offset[kKCBlocks][kNR];
  alignas(32) float d[kKCBlocks][kNR];
  alignas(32) float m[kKCBlocks][kNR];  ///< has_min only
};

/// out[u] lane j = dword u of rows[j] (j < 8, u < 4): a 4 x 4 dword transpose
/// per 128-bit lane after rows j and j + 4 were put in the lanes of one ymm.
inline void transpose_8x4(const __m128i rows[8], __m256i out[4]) {
  __m256i z[4];
  for (int g = 0; g < 4; ++g) z[g] = _mm256_set_m128i(rows[g + 4], rows[g]);
  const __m256i t0 = _mm256_unpacklo_epi32(z[0], z[1]), t1 = _mm256_unpackhi_epi32(z[0], z[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(z[2], z[3]), t3 = _mm256_unpackhi_epi32(z[2], z[3]);
  out[0] = _mm256_unpacklo_epi64(t0, t2);
  out[1] = _mm256_unpackhi_epi64(t0, t2);
  out[2] = _mm256_unpacklo_epi64(t1, t3);
  out[3] = _mm256_unpackhi_epi64(t1, t3);
}

/// Rows [r, r + n) (n <= 8) of block b into the panel's 8 lanes from j0.
/// Lanes past n hold codes 0 and are never stored to y.
void decode_8_rows(const PackedWeight& w, int64_t r, int64_t n, int64_t b, int64_t bb, int j0,
                   Panel* p) {
  const uint8_t* codes = w.codes.data.get() + (r * w.blocks + b) * bytes_per_block(w.format);
  __m128i rows[8];
  for (int j = 0; j < 8; ++j)
    rows[j] = j < n ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + j * w.blocks * 16))
                    : _mm_setzero_si128();
  // Dword u of a kU4 block: positions 4u.. in the low nibbles, 16 + 4u.. in the high ones.
  __m256i dwords[4];
  transpose_8x4(rows, dwords);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  for (int u = 0; u < 4; ++u) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(p->c[bb][u][j0]),
                       _mm256_and_si256(dwords[u], nibble));
    _mm256_store_si256(reinterpret_cast<__m256i*>(p->c[bb][u + 4][j0]),
                       _mm256_and_si256(_mm256_srli_epi16(dwords[u], 4), nibble));
  }
  for (int j = 0; j < 8; ++j)
    p->offset[bb][j0 + j] =
        w.code_offset + (w.has_zero && j < n ? w.zero[(r + j) * w.blocks + b] : 0);
}

/// Rows [rt, rt + nr) x blocks [b0, b0 + nb) into the panel; rows past nr
/// have zero scales.
void decode_panel(const PackedWeight& w, int64_t rt, int64_t nr, int64_t b0, int64_t nb, Panel* p) {
  for (int j0 = 0; j0 < kNR; j0 += 8) {
    const int64_t n = std::clamp<int64_t>(nr - j0, 0, 8);
    for (int64_t bb = 0; bb < nb; ++bb) decode_8_rows(w, rt + j0, n, b0 + bb, bb, j0, p);
  }
  for (int j = 0; j < kNR; ++j)
    for (int64_t bb = 0; bb < nb; ++bb) {
      const int64_t at = (rt + j) * w.blocks + b0 + bb;
      p->d[bb][j] = j < nr ? _cvtsh_ss(w.d[at]) : 0.0f;
      p->m[bb][j] = j < nr && w.has_min ? _cvtsh_ss(w.m[at]) : 0.0f;
    }
}

/// Activation columns [k0, k0 + kc) of all rows, copied into out [a.m][kc]:
/// rows a padded row apart would share L1 sets (float_panel_simd.h).
void copy_activations(const PreparedActivations& a, int64_t k0, int64_t kc,
                      std::vector<int8_t>* out) {
  out->resize(static_cast<size_t>(a.m * kc));
  for (int64_t i = 0; i < a.m; ++i)
    std::memcpy(out->data() + i * kc, a.q.data() + i * a.padded_cols + k0, static_cast<size_t>(kc));
}

/// y[i, rt .. rt + 16) (masked) += the chunk's blocks for MR activation rows:
/// xq [MR][kc], and scale/code_sum/sum [MR][blocks] from the chunk's first block.
template <int MR, bool kMin, bool kZero>
void micro(const Panel& p, int64_t nb, const int8_t* xq, int64_t kc, const float* scale,
           const int32_t* code_sum, const float* sum, int64_t blocks, bool first, float* y,
           int64_t ldy, __m256i mask0, __m256i mask1) {
  __m256 acc[MR][2];
  load_tile(acc, first, y, ldy, mask0, mask1);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t bb = 0; bb < nb; ++bb) {
    __m256i h[MR][2];
    for (int i = 0; i < MR; ++i) h[i][0] = h[i][1] = _mm256_setzero_si256();
    const int8_t* xb = xq + bb * kBlock;
#pragma GCC unroll 8
    for (int s = 0; s < kSteps; ++s) {
      const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.c[bb][s][0]));
      const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.c[bb][s][8]));
      for (int i = 0; i < MR; ++i) {
        int32_t four;
        std::memcpy(&four, xb + i * kc + 4 * s, sizeof four);
        const __m256i xv = _mm256_set1_epi32(four);
        h[i][0] = _mm256_add_epi16(h[i][0], _mm256_maddubs_epi16(w0, xv));
        h[i][1] = _mm256_add_epi16(h[i][1], _mm256_maddubs_epi16(w1, xv));
      }
    }
    const __m256i off0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.offset[bb]));
    const __m256i off1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.offset[bb] + 8));
    const __m256 d0 = _mm256_load_ps(p.d[bb]), d1 = _mm256_load_ps(p.d[bb] + 8);
    for (int i = 0; i < MR; ++i) {
      const int32_t cs = code_sum[i * blocks + bb];
      const __m256 s = _mm256_set1_ps(scale[i * blocks + bb]);
      // Without zero points every row has the same offset: one scalar product.
      const __m256i o0 = kZero ? _mm256_mullo_epi32(off0, _mm256_set1_epi32(cs))
                               : _mm256_set1_epi32(p.offset[bb][0] * cs);
      const __m256i o1 = kZero ? _mm256_mullo_epi32(off1, _mm256_set1_epi32(cs)) : o0;
      const __m256i l0 = _mm256_sub_epi32(_mm256_madd_epi16(h[i][0], ones), o0);
      const __m256i l1 = _mm256_sub_epi32(_mm256_madd_epi16(h[i][1], ones), o1);
      acc[i][0] = _mm256_fmadd_ps(_mm256_mul_ps(d0, s), _mm256_cvtepi32_ps(l0), acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(_mm256_mul_ps(d1, s), _mm256_cvtepi32_ps(l1), acc[i][1]);
    }
    if constexpr (kMin) {
      const __m256 m0 = _mm256_load_ps(p.m[bb]), m1 = _mm256_load_ps(p.m[bb] + 8);
      for (int i = 0; i < MR; ++i) {
        const __m256 x = _mm256_set1_ps(sum[i * blocks + bb]);
        acc[i][0] = _mm256_fmadd_ps(m0, x, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(m1, x, acc[i][1]);
      }
    }
  }
  store_tile(acc, y, ldy, mask0, mask1);
}

using MicroFn = void (*)(const Panel&, int64_t, const int8_t*, int64_t, const float*,
                         const int32_t*, const float*, int64_t, bool, float*, int64_t, __m256i,
                         __m256i);

template <bool kMin, bool kZero>
constexpr MicroFn kMicro[kMR + 1] = {nullptr, micro<1, kMin, kZero>, micro<2, kMin, kZero>,
                                     micro<3, kMin, kZero>};
static_assert(kMR == 3, "kMicro lists micro<1..kMR>");

}  // namespace

void int8_panel_rows_avx2(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                          float* y, int64_t ldy, int64_t r0, int64_t r1) {
  QT_ASSERT(w.format == CodeFormat::kU4 && a.padded_cols == w.padded_cols());
  static thread_local Panel panel;
  static thread_local std::vector<int8_t> xq;
  const MicroFn* micro_for = w.has_min    ? kMicro<true, false>
                             : w.has_zero ? kMicro<false, true>
                                          : kMicro<false, false>;
  QT_ASSERT(!(w.has_min && w.has_zero), "a float zero replaces the integer one");
  // k outermost: one chunk of the activations stays in L2 while every panel
  // of this thread's rows meets it.
  for (int64_t k0 = 0; k0 < a.padded_cols; k0 += kKC) {
    const int64_t kc = std::min<int64_t>(kKC, a.padded_cols - k0);
    const int64_t b0 = k0 / kBlock, nb = kc / kBlock;
    copy_activations(a, k0, kc, &xq);
    for (int64_t rt = r0; rt < r1; rt += kNR) {
      const int64_t nr = std::min<int64_t>(kNR, r1 - rt);
      decode_panel(w, rt, nr, b0, nb, &panel);
      const __m256i mask0 = lane_mask8(nr), mask1 = lane_mask8(nr - 8);
      for (int64_t i0 = 0; i0 < a.m; i0 += kMR) {
        const int64_t mr = std::min<int64_t>(kMR, a.m - i0);
        const int64_t at = i0 * w.blocks + b0;
        micro_for[mr](panel, nb, xq.data() + i0 * kc, kc, a.scale.data() + at,
                      a.code_sum.data() + at, a.sum.data() + at, w.blocks, k0 == 0,
                      y + i0 * ldy + rt, ldy, mask0, mask1);
      }
    }
  }
  for (int64_t i = 0; i < a.m; ++i)
    for (int64_t r = r0; r < r1; ++r) {
      float& v = y[i * ldy + r];
      v = w.global_scale * v + (bias ? bias[r] : 0.0f);
    }
}

}  // namespace qtune::native
