// The native int8 GEMM on AVX2, exact without VNNI. vpmaddubsw multiplies u8
// by s8 bytes into s16 pair sums, which saturate for full-range codes
// (255 * 127 * 2 > 32767); so each u8 code is split, a = 2 * (a >> 1) + (a & 1):
// the high halves (0..127) give pair sums within 2 * 127 * 128 < 2^15, the low
// bits (0..1) pair sums within 256, and the two are combined in s32.
// s8 activations enter as u8 (code ^ 0x80 = code + 128) with the zero point
// raised by 128; the zero point is taken out through the weights' row sums:
// sum (a - zp) w = sum a w - zp * sum w. (Measured against widening both to
// s16 for vpmaddwd, exact too: this ran the GEMM core in 0.59-0.94 of its time.)
//
// Weights, per block of 8 output channels, k in quads (s8):
//   [block][k/4][8 channels][4 codes]  -> one 256-bit load = 8 outputs x 4 k
// Activations: a row's quad of high halves (or low bits) broadcast as one s32.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/native/int8_epilogue_simd.h"
#include "backends/native/int8_gemm.h"

namespace qtune::native {

namespace {

constexpr int64_t kBlock = 8;
// Low-bit pair sums are within 256 in magnitude: 64 quads of them fit an s16 lane.
constexpr int64_t kLowFlush = 64;

int64_t quads_of(int64_t k) { return (k + 3) / 4; }

template <int MR, int NB>
void tile(const uint8_t* hi, const uint8_t* lo, int64_t lda, const int8_t* b, int64_t quads,
          const int32_t* row_sums, int32_t zp, int32_t* acc, int64_t ldacc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i ch[MR][NB], cl[MR][NB], cl16[MR][NB];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NB; ++j) ch[i][j] = cl[i][j] = cl16[i][j] = _mm256_setzero_si256();
  const int64_t block_stride = quads * 4 * kBlock;
  for (int64_t q0 = 0; q0 < quads; q0 += kLowFlush) {
    const int64_t q1 = std::min(quads, q0 + kLowFlush);
    for (int64_t q = q0; q < q1; ++q) {
      __m256i bv[NB];
      for (int j = 0; j < NB; ++j)
        bv[j] = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(b + j * block_stride + q * 4 * kBlock));
      for (int i = 0; i < MR; ++i) {
        int32_t h, l;
        std::memcpy(&h, hi + i * lda + 4 * q, sizeof(h));
        std::memcpy(&l, lo + i * lda + 4 * q, sizeof(l));
        const __m256i hv = _mm256_set1_epi32(h), lv = _mm256_set1_epi32(l);
        for (int j = 0; j < NB; ++j) {
          ch[i][j] =
              _mm256_add_epi32(ch[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(hv, bv[j]), ones));
          cl16[i][j] = _mm256_add_epi16(cl16[i][j], _mm256_maddubs_epi16(lv, bv[j]));
        }
      }
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NB; ++j) {
        cl[i][j] = _mm256_add_epi32(cl[i][j], _mm256_madd_epi16(cl16[i][j], ones));
        cl16[i][j] = _mm256_setzero_si256();
      }
  }
  const __m256i vzp = _mm256_set1_epi32(zp);
  for (int j = 0; j < NB; ++j) {
    const __m256i corr = _mm256_mullo_epi32(
        vzp, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_sums + j * kBlock)));
    for (int i = 0; i < MR; ++i) {
      const __m256i sum = _mm256_add_epi32(_mm256_slli_epi32(ch[i][j], 1), cl[i][j]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * ldacc + j * kBlock),
                          _mm256_sub_epi32(sum, corr));
    }
  }
}

template <int NB>
void rows_tile(int64_t rows, const uint8_t* hi, const uint8_t* lo, int64_t lda, const int8_t* b,
               int64_t quads, const int32_t* row_sums, int32_t zp, int32_t* acc, int64_t ldacc) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    tile<4, NB>(hi + r * lda, lo + r * lda, lda, b, quads, row_sums, zp, acc + r * ldacc, ldacc);
  for (; r < rows; ++r)
    tile<1, NB>(hi + r * lda, lo + r * lda, lda, b, quads, row_sums, zp, acc + r * ldacc, ldacc);
}

}  // namespace

Int8PackedWeights pack_int8_avx2(const int8_t* w, int64_t n, int64_t k) {
  Int8PackedWeights p;
  p.isa = Isa::kAvx2;
  p.n = n;
  p.k = k;
  const int64_t blocks = (n + kBlock - 1) / kBlock, quads = quads_of(k);
  p.bytes.assign(static_cast<size_t>(blocks * quads * 4 * kBlock), 0);
  for (int64_t o = 0; o < n; ++o)
    for (int64_t j = 0; j < k; ++j)
      p.bytes[((o / kBlock) * quads + j / 4) * 4 * kBlock + (o % kBlock) * 4 + j % 4] =
          static_cast<uint8_t>(w[o * k + j]);
  p.row_sums = int8_row_sums(w, n, k);
  // Whole blocks of sums, so the tile's vector loads stay inside.
  p.row_sums.resize(static_cast<size_t>(blocks * kBlock), 0);
  return p;
}

void int8_gemm_avx2(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e,
                    int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  thread_local std::vector<uint8_t> rows, hi, lo;
  thread_local std::vector<int32_t> acc;
  const int64_t k = a.k, quads = quads_of(k), lda = 4 * quads;
  const int64_t first = n0 / kBlock, last = (n1 + kBlock - 1) / kBlock;
  const int64_t ldacc = (last - first) * kBlock;
  const int8_t* packed = reinterpret_cast<const int8_t*>(b.bytes.data());
  const int64_t block_stride = quads * 4 * kBlock;
  const int32_t zp = a.is_signed ? 128 : a.zero_point;
  const uint8_t flip = a.is_signed ? 0x80 : 0x00;
  const __m256i vflip = _mm256_set1_epi8(static_cast<char>(flip));
  const __m256i low7 = _mm256_set1_epi8(0x7f), bit0 = _mm256_set1_epi8(1);
  for (int64_t t0 = m0; t0 < m1; t0 += kInt8RowTile) {
    const int64_t tile_rows = std::min(kInt8RowTile, m1 - t0);
    rows.resize(static_cast<size_t>(tile_rows * k));
    hi.resize(static_cast<size_t>(tile_rows * lda));
    lo.resize(static_cast<size_t>(tile_rows * lda));
    acc.resize(static_cast<size_t>(tile_rows * ldacc));
    gather_rows(a, t0, tile_rows, rows.data());
    // Split each code into its high half and low bit; whole quads per row,
    // the padding meets zero weights.
    for (int64_t r = 0; r < tile_rows; ++r) {
      const uint8_t* src = rows.data() + r * k;
      uint8_t* h = hi.data() + r * lda;
      uint8_t* l = lo.data() + r * lda;
      int64_t j = 0;
      for (; j + 32 <= k; j += 32) {
        const __m256i v =
            _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + j)), vflip);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(h + j),
                            _mm256_and_si256(_mm256_srli_epi16(v, 1), low7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(l + j), _mm256_and_si256(v, bit0));
      }
      for (; j < k; ++j) {
        const uint8_t v = src[j] ^ flip;
        h[j] = v >> 1;
        l[j] = v & 1;
      }
      for (; j < lda; ++j) h[j] = l[j] = 0;
    }
    int64_t blk = first;
    for (; blk + 2 <= last; blk += 2)
      rows_tile<2>(tile_rows, hi.data(), lo.data(), lda, packed + blk * block_stride, quads,
                   b.row_sums.data() + blk * kBlock, zp, acc.data() + (blk - first) * kBlock,
                   ldacc);
    if (blk < last)
      rows_tile<1>(tile_rows, hi.data(), lo.data(), lda, packed + blk * block_stride, quads,
                   b.row_sums.data() + blk * kBlock, zp, acc.data() + (blk - first) * kBlock,
                   ldacc);
    apply_epilogue_avx2(acc.data(), ldacc, t0, tile_rows, n0, n1, e);
  }
}

}  // namespace qtune::native
