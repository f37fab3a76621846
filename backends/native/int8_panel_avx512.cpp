// kInt8Activations on AVX-512 VNNI for many activation rows: a GEMM whose
// register tile is 32 weight rows (two zmm, one int32 lane per row) by up to
// kMR activation rows. woq_gemm_avx512.cpp's tile puts a row's blocks in the
// lanes instead and spends a conversion, a permute and an FMA on every 128
// positions of every (row, activation row) pair; here a lane collects a whole
// block of 32 positions over 8 vpdpbusd before the block's one conversion and
// one FMA, and each weight load serves kMR activation rows.
//
// Per chunk of kKC positions and 32 rows, the weights are decoded once into
// a panel of signed bytes w = c - offset(r, b) (kU4: -15..15; kS8 sym: the
// int8 code), laid out [block][step][row][4 positions], with per block and
// row -128 * sum(w) as int32 and d as fp32. vpdpbusd needs one unsigned
// operand: the activations, copied per chunk as q + 128 (1..255), so a lane
// collects dot(q + 128, w) = dot(q, w) + 128 * sum(w) and starts from
// -128 * sum(w): the lane ends at dot(q, w) = dot(c, q) - offset * code_sum,
// the reference's integer, exactly. Products stay below 2^17 and a block's sum
// below 2^21: no saturation, no overflow. The fp32 part is the reference's:
// acc += d * scale * isum (+ m * sum), one chain per output over the blocks in
// order, partial sums parked in y between chunks.
//
// kS8 with zero points (asym int8) is not served: u - zero needs 9 bits.

// GCC 12's AVX-512 intrinsics initialise their unused pass-through operands
// from themselves, which -Wmaybe-uninitialized reports once inlined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/native/accumulator_tile_simd.h"
#include "backends/native/isa_entries.h"
#include "common/error.h"

namespace qtune::native {

namespace {

constexpr int kNR = 32;             ///< panel rows: two zmm of int32 lanes
constexpr int kMR = 6;              ///< activation rows per micro-kernel: 24 accumulators
constexpr int kSteps = kBlock / 4;  ///< vpdpbusd per block: 4 positions each
constexpr int64_t kKC = 512;        ///< positions per chunk: a 16 KB code panel, L1-resident
constexpr int64_t kKCBlocks = kKC / kBlock;

/// One chunk of 32 decoded rows.
struct Panel {
  alignas(64) int8_t w[kKCBlocks][kSteps][kNR][4];
  alignas(64) int32_t init[kKCBlocks][kNR];  ///< -128 * sum of the block's w
  alignas(64) float d[kKCBlocks][kNR];
  alignas(64) float m[kKCBlocks][kNR];  ///< has_min only
};

/// out[u] lane j = dword u of rows[j] (j < 16, u < 4): four 4 x 4 dword
/// transposes, one per 128-bit lane, after rows j, j + 4, j + 8, j + 12 were
/// put in the lanes of one zmm.
inline void transpose_16x4(const __m128i rows[16], __m512i out[4]) {
  __m512i z[4];
  for (int g = 0; g < 4; ++g)
    z[g] = _mm512_inserti32x4(
        _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(rows[g]), rows[g + 4], 1),
                           rows[g + 8], 2),
        rows[g + 12], 3);
  const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
  out[0] = _mm512_unpacklo_epi64(t0, t2);
  out[1] = _mm512_unpackhi_epi64(t0, t2);
  out[2] = _mm512_unpacklo_epi64(t1, t3);
  out[3] = _mm512_unpackhi_epi64(t1, t3);
}

/// Rows [r, r + n) (n <= 16) of block b into the panel's 16 lanes from j0:
/// their signed weights in the [step][row][4] layout, and -128 * their sums.
/// Lanes past n hold codes 0 and are never stored to y.
void decode_16_rows(const PackedWeight& w, int64_t r, int64_t n, int64_t b, int64_t bb, int j0,
                    Panel* p) {
  const int64_t bpb = bytes_per_block(w.format);
  const uint8_t* codes = w.codes.data.get() + (r * w.blocks + b) * bpb;
  __m512i steps[kSteps];
  // A kU4 block is one 16-byte half (dword u: positions 4u.. in the low
  // nibbles, 16 + 4u.. in the high ones); a kS8 block two halves of 16 positions.
  for (int h = 0; h < bpb / 16; ++h) {
    __m128i rows[16];
    for (int j = 0; j < 16; ++j)
      rows[j] = j < n ? _mm_loadu_si128(
                            reinterpret_cast<const __m128i*>(codes + j * w.blocks * bpb + 16 * h))
                      : _mm_setzero_si128();
    transpose_16x4(rows, steps + 4 * h);
  }
  if (w.format == CodeFormat::kU4) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    __m512i offset = _mm512_set1_epi8(static_cast<char>(w.code_offset));
    if (w.has_zero) {
      alignas(64) int32_t z[16] = {};
      for (int j = 0; j < n; ++j) z[j] = w.zero[(r + j) * w.blocks + b] * 0x01010101;
      offset = _mm512_add_epi8(offset, _mm512_load_si512(z));
    }
    for (int u = 0; u < 4; ++u) {
      steps[u + 4] =
          _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(steps[u], 4), nibble), offset);
      steps[u] = _mm512_sub_epi8(_mm512_and_si512(steps[u], nibble), offset);
    }
  }
  const __m512i u128 = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i sum128 = _mm512_setzero_si512();
  for (int s = 0; s < kSteps; ++s) {
    _mm512_store_si512(p->w[bb][s][j0], steps[s]);
    sum128 = _mm512_dpbusd_epi32(sum128, u128, steps[s]);
  }
  _mm512_store_si512(p->init[bb] + j0, _mm512_sub_epi32(_mm512_setzero_si512(), sum128));
}

/// Rows [rt, rt + nr) x blocks [b0, b0 + nb) into the panel; rows past nr
/// have zero scales.
void decode_panel(const PackedWeight& w, int64_t rt, int64_t nr, int64_t b0, int64_t nb, Panel* p) {
  for (int j0 = 0; j0 < kNR; j0 += 16) {
    const int64_t n = std::clamp<int64_t>(nr - j0, 0, 16);
    for (int64_t bb = 0; bb < nb; ++bb) decode_16_rows(w, rt + j0, n, b0 + bb, bb, j0, p);
  }
  // Scales row by row (16 fp16 of a row's chunk per conversion), stored per block.
  const __mmask16 blocks_mask = lane_mask16(nb);
  for (int j = 0; j < kNR; ++j) {
    alignas(64) float d[16] = {}, m[16] = {};
    if (j < nr) {
      const int64_t at = (rt + j) * w.blocks + b0;
      _mm512_store_ps(d, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(blocks_mask, w.d.data() + at)));
      if (w.has_min)
        _mm512_store_ps(m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(blocks_mask, w.m.data() + at)));
    }
    for (int64_t bb = 0; bb < nb; ++bb) {
      p->d[bb][j] = d[bb];
      p->m[bb][j] = m[bb];
    }
  }
}

/// Activation columns [k0, k0 + kc) of all rows as q + 128, into out [a.m][kc].
void copy_unsigned_activations(const PreparedActivations& a, int64_t k0, int64_t kc,
                               std::vector<uint8_t>* out) {
  out->resize(static_cast<size_t>(a.m * kc));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < a.m; ++i) {
    const int8_t* src = a.q.data() + i * a.padded_cols + k0;
    uint8_t* dst = out->data() + i * kc;
    for (int64_t k = 0; k < kc; k += 64) {
      const __mmask64 mask = kc - k >= 64 ? ~0ull : (1ull << (kc - k)) - 1;
      _mm512_mask_storeu_epi8(dst + k, mask,
                              _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, src + k), flip));
    }
  }
}

/// y[i, rt .. rt + 32) (masked) += the chunk's blocks for MR activation rows:
/// xu [MR][kc] unsigned activations, scale/sum [MR][a blocks] from the chunk's
/// first block.
template <int MR, bool kMin>
void micro(const Panel& p, int64_t nb, const uint8_t* xu, int64_t kc, const float* scale,
           const float* sum, int64_t blocks, bool first, float* y, int64_t ldy, __mmask16 mask0,
           __mmask16 mask1) {
  __m512 acc[MR][2];
  load_tile(acc, first, y, ldy, mask0, mask1);
  for (int64_t bb = 0; bb < nb; ++bb) {
    __m512i lane[MR][2];
    const __m512i init0 = _mm512_load_si512(p.init[bb]);
    const __m512i init1 = _mm512_load_si512(p.init[bb] + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      lane[i][0] = init0;
      lane[i][1] = init1;
    }
    const uint8_t* xb = xu + bb * kBlock;
#pragma GCC unroll 8
    for (int s = 0; s < kSteps; ++s) {
      const __m512i w0 = _mm512_load_si512(p.w[bb][s][0]);
      const __m512i w1 = _mm512_load_si512(p.w[bb][s][16]);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        int32_t four;
        std::memcpy(&four, xb + i * kc + 4 * s, sizeof four);
        const __m512i xv = _mm512_set1_epi32(four);
        lane[i][0] = _mm512_dpbusd_epi32(lane[i][0], xv, w0);
        lane[i][1] = _mm512_dpbusd_epi32(lane[i][1], xv, w1);
      }
    }
    const __m512 d0 = _mm512_load_ps(p.d[bb]), d1 = _mm512_load_ps(p.d[bb] + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 s = _mm512_set1_ps(scale[i * blocks + bb]);
      acc[i][0] = _mm512_fmadd_ps(_mm512_mul_ps(d0, s), _mm512_cvtepi32_ps(lane[i][0]), acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(_mm512_mul_ps(d1, s), _mm512_cvtepi32_ps(lane[i][1]), acc[i][1]);
    }
    if constexpr (kMin) {
      const __m512 m0 = _mm512_load_ps(p.m[bb]), m1 = _mm512_load_ps(p.m[bb] + 16);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512 x = _mm512_set1_ps(sum[i * blocks + bb]);
        acc[i][0] = _mm512_fmadd_ps(m0, x, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(m1, x, acc[i][1]);
      }
    }
  }
  store_tile(acc, y, ldy, mask0, mask1);
}

using MicroFn = void (*)(const Panel&, int64_t, const uint8_t*, int64_t, const float*, const float*,
                         int64_t, bool, float*, int64_t, __mmask16, __mmask16);

template <bool kMin>
constexpr MicroFn kMicro[kMR + 1] = {nullptr,        micro<1, kMin>, micro<2, kMin>, micro<3, kMin>,
                                     micro<4, kMin>, micro<5, kMin>, micro<6, kMin>};
static_assert(kMR == 6, "kMicro lists micro<1..kMR>");

}  // namespace

void int8_panel_rows_avx512(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                            float* y, int64_t ldy, int64_t r0, int64_t r1) {
  // kS8 without zero points is sym int8: its codes carry no offset (packed_weight.h).
  QT_ASSERT(int8_gemm_serves(w.format, w.has_zero) &&
            (w.format != CodeFormat::kS8 || w.code_offset == 0) &&
            a.padded_cols == w.padded_cols());
  static thread_local Panel panel;
  static thread_local std::vector<uint8_t> xu;
  const MicroFn* micro_for = w.has_min ? kMicro<true> : kMicro<false>;
  // k outermost: one chunk of the activations stays in L2 while every panel
  // of this thread's rows meets it.
  for (int64_t k0 = 0; k0 < a.padded_cols; k0 += kKC) {
    const int64_t kc = std::min<int64_t>(kKC, a.padded_cols - k0);
    const int64_t b0 = k0 / kBlock, nb = kc / kBlock;
    copy_unsigned_activations(a, k0, kc, &xu);
    for (int64_t rt = r0; rt < r1; rt += kNR) {
      const int64_t nr = std::min<int64_t>(kNR, r1 - rt);
      decode_panel(w, rt, nr, b0, nb, &panel);
      const __mmask16 mask0 = lane_mask16(nr), mask1 = lane_mask16(nr - 16);
      for (int64_t i0 = 0; i0 < a.m; i0 += kMR) {
        const int64_t mr = std::min<int64_t>(kMR, a.m - i0);
        micro_for[mr](panel, nb, xu.data() + i0 * kc, kc, a.scale.data() + i0 * w.blocks + b0,
                      a.sum.data() + i0 * w.blocks + b0, w.blocks, k0 == 0, y + i0 * ldy + rt, ldy,
                      mask0, mask1);
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
