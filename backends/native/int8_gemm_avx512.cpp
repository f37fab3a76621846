// The native int8 GEMM on AVX-512 VNNI: vpdpbusd adds four u8 x s8 products
// into each s32 lane, exactly. s8 activations enter as u8 (code ^ 0x80 =
// code + 128) with the zero point raised by 128; the zero point is then taken
// out through the weights' row sums: sum (a - zp) w = sum a w - zp * sum w.
//
// Weights, per block of 16 output channels, k in quads (s8):
//   [block][k/4][16 channels][4 codes]  -> one 512-bit load = 16 outputs x 4 k
// Activations: a row's quad a[4q..4q+3] broadcast as one s32.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/native/int8_epilogue_simd.h"
#include "backends/native/int8_gemm.h"

namespace qtune::native {

namespace {

constexpr int64_t kBlock = 16;

int64_t quads_of(int64_t k) { return (k + 3) / 4; }

template <int MR, int NB>
void tile(const uint8_t* a, int64_t lda, const int8_t* b, int64_t quads, const int32_t* row_sums,
          int32_t zp, int32_t* acc, int64_t ldacc) {
  __m512i c[MR][NB];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NB; ++j) c[i][j] = _mm512_setzero_si512();
  const int64_t block_stride = quads * 4 * kBlock;
  for (int64_t q = 0; q < quads; ++q) {
    __m512i bv[NB];
    for (int j = 0; j < NB; ++j) bv[j] = _mm512_loadu_si512(b + j * block_stride + q * 4 * kBlock);
    for (int i = 0; i < MR; ++i) {
      int32_t quad;
      std::memcpy(&quad, a + i * lda + 4 * q, sizeof(quad));
      const __m512i av = _mm512_set1_epi32(quad);
      for (int j = 0; j < NB; ++j) c[i][j] = _mm512_dpbusd_epi32(c[i][j], av, bv[j]);
    }
  }
  const __m512i vzp = _mm512_set1_epi32(zp);
  for (int j = 0; j < NB; ++j) {
    const __m512i corr = _mm512_mullo_epi32(vzp, _mm512_loadu_si512(row_sums + j * kBlock));
    for (int i = 0; i < MR; ++i)
      _mm512_storeu_si512(acc + i * ldacc + j * kBlock, _mm512_sub_epi32(c[i][j], corr));
  }
}

template <int NB>
void rows_tile(int64_t rows, const uint8_t* a, int64_t lda, const int8_t* b, int64_t quads,
               const int32_t* row_sums, int32_t zp, int32_t* acc, int64_t ldacc) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    tile<4, NB>(a + r * lda, lda, b, quads, row_sums, zp, acc + r * ldacc, ldacc);
  for (; r < rows; ++r)
    tile<1, NB>(a + r * lda, lda, b, quads, row_sums, zp, acc + r * ldacc, ldacc);
}

}  // namespace

Int8PackedWeights pack_int8_avx512(const int8_t* w, int64_t n, int64_t k) {
  Int8PackedWeights p;
  p.isa = Isa::kAvx512;
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

void int8_gemm_avx512(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e,
                      int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  thread_local std::vector<uint8_t> rows;
  thread_local std::vector<uint8_t> quads_buf;
  thread_local std::vector<int32_t> acc;
  const int64_t k = a.k, quads = quads_of(k), lda = 4 * quads;
  const int64_t first = n0 / kBlock, last = (n1 + kBlock - 1) / kBlock;
  const int64_t ldacc = (last - first) * kBlock;
  const int8_t* packed = reinterpret_cast<const int8_t*>(b.bytes.data());
  const int64_t block_stride = quads * 4 * kBlock;
  const int32_t zp = a.is_signed ? 128 : a.zero_point;
  const uint8_t flip = a.is_signed ? 0x80 : 0x00;
  for (int64_t t0 = m0; t0 < m1; t0 += kInt8RowTile) {
    const int64_t tile_rows = std::min(kInt8RowTile, m1 - t0);
    rows.resize(static_cast<size_t>(tile_rows * k));
    quads_buf.resize(static_cast<size_t>(tile_rows * lda));
    acc.resize(static_cast<size_t>(tile_rows * ldacc));
    gather_rows(a, t0, tile_rows, rows.data());
    // Whole quads per row; the padding meets zero weights.
    for (int64_t r = 0; r < tile_rows; ++r) {
      const uint8_t* src = rows.data() + r * k;
      uint8_t* dst = quads_buf.data() + r * lda;
      for (int64_t j = 0; j < k; ++j) dst[j] = src[j] ^ flip;
      for (int64_t j = k; j < lda; ++j) dst[j] = 0;
    }
    int64_t blk = first;
    for (; blk + 2 <= last; blk += 2)
      rows_tile<2>(tile_rows, quads_buf.data(), lda, packed + blk * block_stride, quads,
                   b.row_sums.data() + blk * kBlock, zp, acc.data() + (blk - first) * kBlock,
                   ldacc);
    if (blk < last)
      rows_tile<1>(tile_rows, quads_buf.data(), lda, packed + blk * block_stride, quads,
                   b.row_sums.data() + blk * kBlock, zp, acc.data() + (blk - first) * kBlock,
                   ldacc);
    apply_epilogue_avx2(acc.data(), ldacc, t0, tile_rows, n0, n1, e);
  }
}

}  // namespace qtune::native
