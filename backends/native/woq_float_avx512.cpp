// kFloat for AVX-512 F/BW/VL (compiled with those flags only; see
// CMakeLists.txt qtune_isa_sources). The same two loops as
// woq_float_avx2.cpp, 16 lanes wide:
//  - M <= kDotMaxM: one zmm accumulator per half block (positions 0-15 and
//    16-31) per output, two rows at a time; table codes are one vpermps over
//    the 16 entries.
//  - larger M: the same chunk loop over the copied activation chunk, a
//    panel [KC][32] of decoded weights (8-wide transposes of each zmm's two
//    halves) and a 12 x 32 register tile (24 accumulators); each output is
//    one FMA chain over k in order.
// Weights are exact in fp32 (see woq_float_avx2.cpp); global_scale and the
// bias are applied once per output.

// GCC 12's AVX-512 intrinsics initialise their unused pass-through operands
// from themselves (`__m512 __Y = __Y;`), which -Wmaybe-uninitialized reports
// once inlined; those values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>

#include "backends/native/accumulator_tile_simd.h"
#include "backends/native/float_panel_simd.h"
#include "backends/native/isa_entries.h"

namespace qtune::native {

namespace {

constexpr int kDotMaxM = 4;
constexpr int kNR = 32;   // panel rows: two zmm of outputs
constexpr int kMR = 12;   // activation rows per micro-kernel: 24 accumulators
constexpr int kKC = 256;  // panel columns: 32 KB of fp32, L1-resident

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
  __m512 table;

  explicit Layer(const PackedWeight& w)
      : codes(w.codes.data.get()),
        bpb(bytes_per_block(w.format)),
        blocks(w.blocks),
        d(w.d.data()),
        zero(w.has_zero ? w.zero.data() : nullptr),
        m(w.has_min ? w.m.data() : nullptr),
        code_offset(static_cast<float>(w.code_offset)),
        has_zero(w.has_zero),
        table(_mm512_loadu_ps(w.table.data())) {}
};

inline float half(uint16_t h) { return _cvtsh_ss(h); }

/// The 32 codes of a block as int32, positions 0-15 and 16-31.
template <CodeFormat F>
inline void load_codes(const uint8_t* p, __m512i c[2]) {
  if constexpr (F == CodeFormat::kS8) {
    c[0] = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    c[1] = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
  } else {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i nib = _mm_set1_epi8(0x0F);
    c[0] = _mm512_cvtepu8_epi32(_mm_and_si128(v, nib));
    c[1] = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(v, 4), nib));
  }
}

/// Weights of row r, block b (relative to global_scale).
template <CodeFormat F, Mode M>
inline void decode(const Layer& l, int64_t r, int64_t b, __m512 w[2]) {
  const int64_t rb = r * l.blocks + b;
  __m512i c[2];
  load_codes<F>(l.codes + rb * l.bpb, c);
  const __m512 d = _mm512_set1_ps(half(l.d[rb]));
  if constexpr (M == Mode::kTable) {
    for (int s = 0; s < 2; ++s) w[s] = _mm512_mul_ps(d, _mm512_permutexvar_ps(c[s], l.table));
  } else if constexpr (M == Mode::kMin) {
    const __m512 m = _mm512_set1_ps(half(l.m[rb]));
    for (int s = 0; s < 2; ++s) w[s] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(c[s]), m);
  } else {
    const float off = l.code_offset + (l.has_zero ? static_cast<float>(l.zero[rb]) : 0.0f);
    const __m512 o = _mm512_set1_ps(off);
    for (int s = 0; s < 2; ++s) w[s] = _mm512_mul_ps(d, _mm512_sub_ps(_mm512_cvtepi32_ps(c[s]), o));
  }
}

inline float finish(float acc, float gs, const float* bias, int64_t r) {
  return bias ? gs * acc + bias[r] : gs * acc;
}

/// Outputs of rows [r, r + R) for all MM activation rows.
template <CodeFormat F, Mode M, int MM, int R>
void dot_rows(const Layer& l, const PreparedActivations& a, float gs, const float* bias, float* y,
              int64_t ldy, int64_t r) {
  __m512 acc[R][MM][2];
  for (int j = 0; j < R; ++j)
    for (int i = 0; i < MM; ++i) acc[j][i][0] = acc[j][i][1] = _mm512_setzero_ps();
  const float* x = a.x.data();
  const int64_t pc = a.padded_cols;
  for (int64_t b = 0; b < l.blocks; ++b) {
#pragma GCC unroll 2
    for (int j = 0; j < R; ++j) {
      __m512 w[2];
      decode<F, M>(l, r + j, b, w);
#pragma GCC unroll 4
      for (int i = 0; i < MM; ++i) {
        const float* xb = x + i * pc + b * kBlock;
        acc[j][i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(xb), w[0], acc[j][i][0]);
        acc[j][i][1] = _mm512_fmadd_ps(_mm512_loadu_ps(xb + 16), w[1], acc[j][i][1]);
      }
    }
  }
  for (int j = 0; j < R; ++j)
    for (int i = 0; i < MM; ++i)
      y[i * ldy + r + j] =
          finish(_mm512_reduce_add_ps(_mm512_add_ps(acc[j][i][0], acc[j][i][1])), gs, bias, r + j);
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
           __mmask16 mask0, __mmask16 mask1) {
  __m512 acc[MR][2];
  load_tile(acc, first, y, ldy, mask0, mask1);
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(panel + k * kNR);
    const __m512 b1 = _mm512_load_ps(panel + k * kNR + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_set1_ps(xt[i * kc + k]);
      acc[i][0] = _mm512_fmadd_ps(xv, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(xv, b1, acc[i][1]);
    }
  }
  store_tile(acc, y, ldy, mask0, mask1);
}

using MicroFn = void (*)(const float*, int64_t, const float*, bool, float*, int64_t, __mmask16,
                         __mmask16);
constexpr MicroFn kMicro[kMR + 1] = {nullptr,   micro<1>,  micro<2>, micro<3>, micro<4>,
                                     micro<5>,  micro<6>,  micro<7>, micro<8>, micro<9>,
                                     micro<10>, micro<11>, micro<12>};

template <CodeFormat F, Mode M>
void panel_kernel(const Layer& l, const PreparedActivations& a, float gs, const float* bias,
                  float* y, int64_t ldy, int64_t r0, int64_t r1) {
  alignas(64) float panel[kKC * kNR];
  const int64_t pc = a.padded_cols;
  static thread_local std::vector<float> packed_x;
  // k outermost: one chunk of the activations stays in L2 while every panel
  // of this thread's rows meets it; partial sums are parked in y.
  for (int64_t k0 = 0; k0 < pc; k0 += kKC) {
    const int64_t kc = std::min<int64_t>(kKC, pc - k0);
    pack_activation_rows(a, k0, kc, &packed_x);
    for (int64_t rt = r0; rt < r1; rt += kNR) {
      const int64_t nr = std::min<int64_t>(kNR, r1 - rt);
      const __mmask16 mask0 = lane_mask16(nr), mask1 = lane_mask16(nr - 16);
      // Eight rows at a time: each block's two zmm split into four 8-wide
      // k-slices, transposed in registers into the panel's [k][32] layout.
      for (int64_t j0 = 0; j0 < kNR; j0 += 8)
        for (int64_t bb = 0; bb < kc / kBlock; ++bb) {
          __m256 w[8][4];
          for (int j = 0; j < 8; ++j) {
            __m512 v[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
            if (j0 + j < nr) decode<F, M>(l, rt + j0 + j, k0 / kBlock + bb, v);
            for (int h = 0; h < 2; ++h) {
              w[j][2 * h] = _mm512_castps512_ps256(v[h]);
              w[j][2 * h + 1] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[h]), 1));
            }
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
  const __m512 gs = _mm512_set1_ps(w.global_scale);
  const bool identity = w.column_of.empty();
  for (int64_t r = r0; r < r1; ++r) {
    float* row = out + (r - r0) * w.cols;
    for (int64_t b = 0; b < w.blocks; ++b) {
      __m512 v[2];
      decode<F, M>(l, r, b, v);
      // global_scale is a power of two: the product is exact.
      v[0] = _mm512_mul_ps(v[0], gs);
      v[1] = _mm512_mul_ps(v[1], gs);
      const int64_t p0 = b * kBlock;
      if (identity && p0 + kBlock <= w.cols) {
        // Plain stores: masked stores to memory are slow on AMD (2x here).
        _mm512_storeu_ps(row + p0, v[0]);
        _mm512_storeu_ps(row + p0 + 16, v[1]);
      } else if (identity) {
        _mm512_mask_storeu_ps(row + p0, lane_mask16(w.cols - p0), v[0]);
        _mm512_mask_storeu_ps(row + p0 + 16, lane_mask16(w.cols - p0 - 16), v[1]);
      } else {
        alignas(64) float tmp[kBlock];
        _mm512_store_ps(tmp, v[0]);
        _mm512_store_ps(tmp + 16, v[1]);
        for (int j = 0; j < kBlock; ++j) {
          const int32_t col = w.column_of[p0 + j];
          if (col >= 0) row[col] = tmp[j];
        }
      }
    }
  }
}

}  // namespace

void float_gemm_rows_avx512(const PackedWeight& w, const PreparedActivations& a, const float* bias,
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

void float_decode_rows_avx512(const PackedWeight& w, int64_t r0, int64_t r1, float* out) {
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
