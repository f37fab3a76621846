// The plain reference twin of the native int8 GEMM: weights [n][k] as they
// are, one int32 sum per output.
#include <algorithm>

#include "backends/native/int8_gemm.h"

namespace qtune::native {

Int8PackedWeights pack_int8_ref(const int8_t* w, int64_t n, int64_t k) {
  Int8PackedWeights p;
  p.isa = Isa::kRef;
  p.n = n;
  p.k = k;
  p.bytes.assign(reinterpret_cast<const uint8_t*>(w), reinterpret_cast<const uint8_t*>(w) + n * k);
  p.row_sums = int8_row_sums(w, n, k);
  return p;
}

void int8_gemm_ref(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e,
                   int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  thread_local std::vector<uint8_t> rows;
  thread_local std::vector<int32_t> acc;
  const int64_t k = a.k, width = n1 - n0;
  const int8_t* w = reinterpret_cast<const int8_t*>(b.bytes.data());
  for (int64_t t0 = m0; t0 < m1; t0 += kInt8RowTile) {
    const int64_t tile = std::min(kInt8RowTile, m1 - t0);
    rows.resize(static_cast<size_t>(tile * k));
    acc.resize(static_cast<size_t>(tile * width));
    gather_rows(a, t0, tile, rows.data());
    for (int64_t r = 0; r < tile; ++r) {
      const uint8_t* x = rows.data() + r * k;
      for (int64_t n = n0; n < n1; ++n) {
        int32_t s = 0;
        for (int64_t j = 0; j < k; ++j) {
          const int32_t code = a.is_signed ? static_cast<int8_t>(x[j]) : x[j];
          s += (code - a.zero_point) * w[n * k + j];
        }
        acc[r * width + (n - n0)] = s;
      }
    }
    apply_epilogue(acc.data(), width, t0, tile, n0, n1, e);
  }
}

}  // namespace qtune::native
