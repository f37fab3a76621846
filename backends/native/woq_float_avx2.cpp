// kFloat for AVX2/FMA/F16C (compiled with those flags only; see
// CMakeLists.txt qtune_isa_sources). A block's codes become its fp32 weights
// in registers, w = d * (c - offset), fma(d, c, m) or d * table[c] -- exact in
// fp32 (an 11-bit d times a code of at most 9 bits), so the only rounding
// beyond eager's is fp16 d/m and the fp32 summation order; global_scale (a
// power of two) and the bias are applied once per output.
//
// Two loops, chosen by M alone (so a thread split over rows never changes a
// result):
//  - M <= kDotMaxM (GEMV, decode): weights stream once; each output keeps two
//    8-lane accumulators along K (block positions 0-7 and 16-23 in the first,
//    8-15 and 24-31 in the second), summed at the end. Two rows at a time so
//    that four FMA chains hide the FMA latency.
//  - larger M (prefill): for each chunk of KC columns, the activations'
//    chunk is copied out contiguously (float_panel_simd.h); then for each NR rows
//    the chunk's weights are decoded into a panel [KC][NR] on the stack
//    (eight rows at a time, transposed in registers) and an MR x NR register
//    tile of outputs runs over it with broadcast activations (the usual GEMM
//    micro-kernel). The chunk loop is outermost so that the copied chunk
//    stays in L2 while every panel of the thread's rows meets it. Each
//    output is one FMA chain over k in order; partial sums of one KC chunk
//    are parked in y and reloaded as the next chunk's accumulator, so the
//    chain is the same whatever NR tile or thread a row falls in.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "backends/native/accumulator_tile_simd.h"
#include "backends/native/float_panel_simd.h"
#include "backends/native/isa_entries.h"

namespace qtune::native {

namespace {

constexpr int kDotMaxM = 4;
constexpr int kNR = 16;   // panel rows: two ymm of outputs
constexpr int kMR = 6;    // activation rows per micro-kernel: 12 accumulators
constexpr int kKC = 256;  // panel columns: 16 KB of fp32, L1-resident

enum class Mode { kOffset, kMin, kTable };

struct Layer {
  const uint8_t* codes;
  int64_t bpb;
  int64_t blocks;
  const uint16_t* d;
  const uint8_t* zero;
  const uint16_t* m;
  float code_offset;
  bool has_zero;
  __m256 table_lo, table_hi;

  explicit Layer(const PackedWeight& w)
      : codes(w.codes.data.get()),
        bpb(bytes_per_block(w.format)),
        blocks(w.blocks),
        d(w.d.data()),
        zero(w.has_zero ? w.zero.data() : nullptr),
        m(w.has_min ? w.m.data() : nullptr),
        code_offset(static_cast<float>(w.code_offset)),
        has_zero(w.has_zero),
        table_lo(_mm256_loadu_ps(w.table.data())),
        table_hi(_mm256_loadu_ps(w.table.data() + 8)) {}
};

inline float half(uint16_t h) { return _cvtsh_ss(h); }

/// The 32 codes of a block as int32, positions 0-7, 8-15, 16-23, 24-31.
template <CodeFormat F>
inline void load_codes(const uint8_t* p, __m256i c[4]) {
  if constexpr (F == CodeFormat::kS8) {
    for (int s = 0; s < 4; ++s)
      c[s] = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * s)));
  } else {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i nib = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(v, nib);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), nib);
    c[0] = _mm256_cvtepu8_epi32(lo);
    c[1] = _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8));
    c[2] = _mm256_cvtepu8_epi32(hi);
    c[3] = _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8));
  }
}

/// Weights of row r, block b (relative to global_scale).
template <CodeFormat F, Mode M>
inline void decode(const Layer& l, int64_t r, int64_t b, __m256 w[4]) {
  const int64_t rb = r * l.blocks + b;
  __m256i c[4];
  load_codes<F>(l.codes + rb * l.bpb, c);
  const __m256 d = _mm256_set1_ps(half(l.d[rb]));
  if constexpr (M == Mode::kTable) {
    for (int s = 0; s < 4; ++s) {
      const __m256 lo = _mm256_permutevar8x32_ps(l.table_lo, c[s]);
      const __m256 hi = _mm256_permutevar8x32_ps(l.table_hi, c[s]);
      // Bit 3 of the index picks the upper half: moved to the sign bit for blendv.
      const __m256 t = _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(c[s], 28)));
      w[s] = _mm256_mul_ps(d, t);
    }
  } else if constexpr (M == Mode::kMin) {
    const __m256 m = _mm256_set1_ps(half(l.m[rb]));
    for (int s = 0; s < 4; ++s) w[s] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(c[s]), m);
  } else {
    const float off = l.code_offset + (l.has_zero ? static_cast<float>(l.zero[rb]) : 0.0f);
    const __m256 o = _mm256_set1_ps(off);
    for (int s = 0; s < 4; ++s) w[s] = _mm256_mul_ps(d, _mm256_sub_ps(_mm256_cvtepi32_ps(c[s]), o));
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float finish(float acc, float gs, const float* bias, int64_t r) {
  return bias ? gs * acc + bias[r] : gs * acc;
}

/// Outputs of rows [r, r + R) for all MM activation rows.
template <CodeFormat F, Mode M, int MM, int R>
void dot_rows(const Layer& l, const PreparedActivations& a, float gs, const float* bias, float* y,
              int64_t ldy, int64_t r) {
  __m256 acc[R][MM][2];
  for (int j = 0; j < R; ++j)
    for (int i = 0; i < MM; ++i) acc[j][i][0] = acc[j][i][1] = _mm256_setzero_ps();
  const float* x = a.x.data();
  const int64_t pc = a.padded_cols;
  for (int64_t b = 0; b < l.blocks; ++b) {
#pragma GCC unroll 2
    for (int j = 0; j < R; ++j) {
      __m256 w[4];
      decode<F, M>(l, r + j, b, w);
#pragma GCC unroll 4
      for (int i = 0; i < MM; ++i) {
        const float* xb = x + i * pc + b * kBlock;
        acc[j][i][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xb), w[0], acc[j][i][0]);
        acc[j][i][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 8), w[1], acc[j][i][1]);
        acc[j][i][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 16), w[2], acc[j][i][0]);
        acc[j][i][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 24), w[3], acc[j][i][1]);
      }
    }
  }
  for (int j = 0; j < R; ++j)
    for (int i = 0; i < MM; ++i)
      y[i * ldy + r + j] = finish(hsum(_mm256_add_ps(acc[j][i][0], acc[j][i][1])), gs, bias, r + j);
}

template <CodeFormat F, Mode M, int MM>
void dot_kernel(const Layer& l, const PreparedActivations& a, float gs, const float* bias, float* y,
                int64_t ldy, int64_t r0, int64_t r1) {
  int64_t r = r0;
  for (; r + 2 <= r1; r += 2) dot_rows<F, M, MM, 2>(l, a, gs, bias, y, ldy, r);
  if (r < r1) dot_rows<F, M, MM, 1>(l, a, gs, bias, y, ldy, r);
}

/// y[i, rt .. rt + NR) (masked) += xt[i, 0 .. kc) * panel for MR rows of the copied chunk xt
/// [.][kc].
template <int MR>
void micro(const float* panel, int64_t kc, const float* xt, bool first, float* y, int64_t ldy,
           __m256i mask0, __m256i mask1) {
  __m256 acc[MR][2];
  load_tile(acc, first, y, ldy, mask0, mask1);
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(panel + k * kNR);
    const __m256 b1 = _mm256_load_ps(panel + k * kNR + 8);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m256 xv = _mm256_broadcast_ss(xt + i * kc + k);
      acc[i][0] = _mm256_fmadd_ps(xv, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(xv, b1, acc[i][1]);
    }
  }
  store_tile(acc, y, ldy, mask0, mask1);
}

using MicroFn = void (*)(const float*, int64_t, const float*, bool, float*, int64_t, __m256i,
                         __m256i);
constexpr MicroFn kMicro[kMR + 1] = {nullptr,  micro<1>, micro<2>, micro<3>,
                                     micro<4>, micro<5>, micro<6>};

template <CodeFormat F, Mode M>
void panel_kernel(const Layer& l, const PreparedActivations& a, float gs, const float* bias,
                  float* y, int64_t ldy, int64_t r0, int64_t r1) {
  alignas(64) float panel[kKC * kNR];
  const int64_t pc = a.padded_cols;
  static thread_local std::vector<float> packed_x;
  for (int64_t k0 = 0; k0 < pc; k0 += kKC) {
    const int64_t kc = std::min<int64_t>(kKC, pc - k0);
    pack_activation_rows(a, k0, kc, &packed_x);
    for (int64_t rt = r0; rt < r1; rt += kNR) {
      const int64_t nr = std::min<int64_t>(kNR, r1 - rt);
      const __m256i mask0 = lane_mask8(nr), mask1 = lane_mask8(nr - 8);
      for (int64_t j0 = 0; j0 < kNR; j0 += 8)
        for (int64_t bb = 0; bb < kc / kBlock; ++bb) {
          __m256 w[8][4];
          for (int j = 0; j < 8; ++j) {
            if (j0 + j < nr)
              decode<F, M>(l, rt + j0 + j, k0 / kBlock + bb, w[j]);
            else
              w[j][0] = w[j][1] = w[j][2] = w[j][3] = _mm256_setzero_ps();
          }
          store_block_transposed(w, panel + bb * kBlock * kNR + j0, kNR);
        }
      for (int64_t i0 = 0; i0 < a.m; i0 += kMR) {
        const int64_t mr = std::min<int64_t>(kMR, a.m - i0);
        kMicro[mr](panel, kc, packed_x.data() + i0 * kc, k0 == 0, y + i0 * ldy + rt, ldy, mask0,
                   mask1);
      }
    }
  }
  for (int64_t i = 0; i < a.m; ++i)
    for (int64_t r = r0; r < r1; ++r) {
      float& v = y[i * ldy + r];
      v = finish(v, gs, bias, r);
    }
}

template <CodeFormat F, Mode M>
void run(const PackedWeight& w, const PreparedActivations& a, const float* bias, float* y,
         int64_t ldy, int64_t r0, int64_t r1) {
  const Layer l(w);
  const float gs = w.global_scale;
  switch (a.m) {
    case 1:
      return dot_kernel<F, M, 1>(l, a, gs, bias, y, ldy, r0, r1);
    case 2:
      return dot_kernel<F, M, 2>(l, a, gs, bias, y, ldy, r0, r1);
    case 3:
      return dot_kernel<F, M, 3>(l, a, gs, bias, y, ldy, r0, r1);
    case 4:
      return dot_kernel<F, M, 4>(l, a, gs, bias, y, ldy, r0, r1);
    default:
      return panel_kernel<F, M>(l, a, gs, bias, y, ldy, r0, r1);
  }
}

static_assert(kDotMaxM == 4, "run() dispatches M = 1..4 to dot_kernel");

/// Rows [r0, r1) decoded to fp32 in input-column order (woq_decode.h).
template <CodeFormat F, Mode M>
void decode_all(const PackedWeight& w, int64_t r0, int64_t r1, float* out) {
  const Layer l(w);
  const __m256 gs = _mm256_set1_ps(w.global_scale);
  const bool identity = w.column_of.empty();
  for (int64_t r = r0; r < r1; ++r) {
    float* row = out + (r - r0) * w.cols;
    for (int64_t b = 0; b < w.blocks; ++b) {
      __m256 v[4];
      decode<F, M>(l, r, b, v);
      const int64_t p0 = b * kBlock;
      if (identity && p0 + kBlock <= w.cols) {
        // global_scale is a power of two: the product is exact.
        for (int s = 0; s < 4; ++s) _mm256_storeu_ps(row + p0 + 8 * s, _mm256_mul_ps(v[s], gs));
        continue;
      }
      alignas(32) float tmp[kBlock];
      for (int s = 0; s < 4; ++s) _mm256_store_ps(tmp + 8 * s, _mm256_mul_ps(v[s], gs));
      for (int j = 0; j < kBlock; ++j) {
        const int64_t col = identity ? (p0 + j < w.cols ? p0 + j : -1) : w.column_of[p0 + j];
        if (col >= 0) row[col] = tmp[j];
      }
    }
  }
}

}  // namespace

void float_gemm_rows_avx2(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                          float* y, int64_t ldy, int64_t r0, int64_t r1) {
  if (a.m <= 0 || r0 >= r1) return;
  switch (w.format) {
    case CodeFormat::kTable4:
      return run<CodeFormat::kU4, Mode::kTable>(w, a, bias, y, ldy, r0, r1);
    case CodeFormat::kU4:
      return w.has_min ? run<CodeFormat::kU4, Mode::kMin>(w, a, bias, y, ldy, r0, r1)
                       : run<CodeFormat::kU4, Mode::kOffset>(w, a, bias, y, ldy, r0, r1);
    case CodeFormat::kS8:
      return w.has_min ? run<CodeFormat::kS8, Mode::kMin>(w, a, bias, y, ldy, r0, r1)
                       : run<CodeFormat::kS8, Mode::kOffset>(w, a, bias, y, ldy, r0, r1);
  }
}

void float_decode_rows_avx2(const PackedWeight& w, int64_t r0, int64_t r1, float* out) {
  switch (w.format) {
    case CodeFormat::kTable4:
      return decode_all<CodeFormat::kU4, Mode::kTable>(w, r0, r1, out);
    case CodeFormat::kU4:
      return w.has_min ? decode_all<CodeFormat::kU4, Mode::kMin>(w, r0, r1, out)
                       : decode_all<CodeFormat::kU4, Mode::kOffset>(w, r0, r1, out);
    case CodeFormat::kS8:
      return w.has_min ? decode_all<CodeFormat::kS8, Mode::kMin>(w, r0, r1, out)
                       : decode_all<CodeFormat::kS8, Mode::kOffset>(w, r0, r1, out);
  }
}

}  // namespace qtune::native
