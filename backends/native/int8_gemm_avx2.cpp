// The native int8 GEMM on AVX2: codes widened to s16 (the activation's zero
// point subtracted on the way), products by vpmaddwd into s32. vpmaddubsw
// would multiply the bytes directly but saturates its s16 pair sums on u8 x s8.
//
// Weights stay s8 in memory (half the traffic of s16), per block of 8 output
// channels, k in pairs, widened as they are loaded:
//   [block][k/2][8 channels][2 codes]  -> 16 bytes -> vpmovsxbw = 8 outputs x 2 k
// Activations: a row's pair (a[2p], a[2p+1]) broadcast as one s32.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/native/int8_epilogue_simd.h"
#include "backends/native/int8_gemm.h"

namespace qtune::native {

namespace {

constexpr int64_t kBlock = 8;

int64_t pairs_of(int64_t k) { return (k + 1) / 2; }

template <int MR, int NB>
void tile(const int16_t* a, int64_t lda, const int8_t* b, int64_t pairs, int32_t* acc,
          int64_t ldacc) {
  __m256i c[MR][NB];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NB; ++j) c[i][j] = _mm256_setzero_si256();
  const int64_t block_stride = pairs * 2 * kBlock;
  for (int64_t p = 0; p < pairs; ++p) {
    __m256i bv[NB];
    for (int j = 0; j < NB; ++j)
      bv[j] = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j * block_stride + p * 2 * kBlock)));
    for (int i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, a + i * lda + 2 * p, sizeof(pair));
      const __m256i av = _mm256_set1_epi32(pair);
      for (int j = 0; j < NB; ++j)
        c[i][j] = _mm256_add_epi32(c[i][j], _mm256_madd_epi16(av, bv[j]));
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NB; ++j)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + i * ldacc + j * kBlock), c[i][j]);
}

template <int NB>
void rows_tile(int64_t rows, const int16_t* a, int64_t lda, const int8_t* b, int64_t pairs,
               int32_t* acc, int64_t ldacc) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) tile<4, NB>(a + r * lda, lda, b, pairs, acc + r * ldacc, ldacc);
  for (; r < rows; ++r) tile<1, NB>(a + r * lda, lda, b, pairs, acc + r * ldacc, ldacc);
}

}  // namespace

Int8PackedWeights pack_int8_avx2(const int8_t* w, int64_t n, int64_t k) {
  Int8PackedWeights p;
  p.isa = Int8Isa::kAvx2;
  p.n = n;
  p.k = k;
  const int64_t blocks = (n + kBlock - 1) / kBlock, pairs = pairs_of(k);
  p.bytes.assign(static_cast<size_t>(blocks * pairs * 2 * kBlock), 0);
  for (int64_t o = 0; o < n; ++o)
    for (int64_t j = 0; j < k; ++j)
      p.bytes[((o / kBlock) * pairs + j / 2) * 2 * kBlock + (o % kBlock) * 2 + j % 2] =
          static_cast<uint8_t>(w[o * k + j]);
  p.row_sums = int8_row_sums(w, n, k);
  return p;
}

void int8_gemm_avx2(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e,
                    int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  thread_local std::vector<uint8_t> rows;
  thread_local std::vector<int16_t> wide;
  thread_local std::vector<int32_t> acc;
  const int64_t k = a.k, pairs = pairs_of(k), lda = 2 * pairs;
  const int64_t first = n0 / kBlock, last = (n1 + kBlock - 1) / kBlock;
  const int64_t ldacc = (last - first) * kBlock;
  const int8_t* packed = reinterpret_cast<const int8_t*>(b.bytes.data());
  const int64_t block_stride = pairs * 2 * kBlock;
  const __m256i zp = _mm256_set1_epi16(static_cast<int16_t>(a.zero_point));
  for (int64_t t0 = m0; t0 < m1; t0 += kInt8RowTile) {
    const int64_t tile_rows = std::min(kInt8RowTile, m1 - t0);
    rows.resize(static_cast<size_t>(tile_rows * k));
    wide.resize(static_cast<size_t>(tile_rows * lda));
    acc.resize(static_cast<size_t>(tile_rows * ldacc));
    gather_rows(a, t0, tile_rows, rows.data());
    // Widen to s16 with the zero point subtracted; a padded odd k gets 0.
    for (int64_t r = 0; r < tile_rows; ++r) {
      const uint8_t* src = rows.data() + r * k;
      int16_t* dst = wide.data() + r * lda;
      int64_t j = 0;
      for (; j + 16 <= k; j += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j));
        const __m256i x = a.is_signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), _mm256_sub_epi16(x, zp));
      }
      for (; j < k; ++j) {
        const int32_t code = a.is_signed ? static_cast<int8_t>(src[j]) : src[j];
        dst[j] = static_cast<int16_t>(code - a.zero_point);
      }
      if (k % 2) dst[k] = 0;
    }
    int64_t blk = first;
    for (; blk + 2 <= last; blk += 2)
      rows_tile<2>(tile_rows, wide.data(), lda, packed + blk * block_stride, pairs,
                   acc.data() + (blk - first) * kBlock, ldacc);
    if (blk < last)
      rows_tile<1>(tile_rows, wide.data(), lda, packed + blk * block_stride, pairs,
                   acc.data() + (blk - first) * kBlock, ldacc);
    apply_epilogue_avx2(acc.data(), ldacc, t0, tile_rows, n0, n1, e);
  }
}

}  // namespace qtune::native
