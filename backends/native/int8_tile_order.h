// The order in which the int8-activation kernels (woq_gemm_avx2.cpp,
// woq_gemm_avx512.cpp) visit their register tiles. Every output is one tile's
// sum whatever the order, so the order only decides what stays in cache: the
// result is the same for any order, range split or thread count. No
// intrinsics here: each ISA file instantiates it with its own flags.
#pragma once

#include <algorithm>
#include <cstdint>

namespace qtune::native {

/// Calls tile.template run<R, A>(r, i) for tiles of R weight rows x A
/// activation rows covering rows [r0, r1) x activation rows [0, m):
///  - a GEMV (m = 1) streams kGemvRows rows at once: more rows in flight kept
///    more cache lines coming from memory (4096 x 14336 int4 on one thread,
///    AVX-512: 2.0 against 3.0 ms with 4 rows); with two activation rows that
///    many rows would not fit the registers;
///  - otherwise kRows x kActs tiles, then single rows / single activation rows
///    at the edges, with the activation rows in blocks of kActivationBlock
///    that stay in L2 while every weight row of the range passes over them
///    (streaming all M rows per weight row from L3 made two threads barely
///    faster than one at M = 512).
template <int kGemvRows, int kRows, int kActs, class Tile>
void for_each_int8_tile(int64_t m, int64_t r0, int64_t r1, const Tile& tile) {
  constexpr int64_t kActivationBlock = 64;
  int64_t r_tiles = r0;
  if (m == 1)
    for (; r_tiles + kGemvRows <= r1; r_tiles += kGemvRows)
      tile.template run<kGemvRows, 1>(r_tiles, 0);
  for (int64_t i0 = 0; i0 < m; i0 += kActivationBlock) {
    const int64_t i1 = std::min<int64_t>(m, i0 + kActivationBlock);
    int64_t r = r_tiles;
    for (; r + kRows <= r1; r += kRows) {
      int64_t i = i0;
      for (; i + kActs <= i1; i += kActs) tile.template run<kRows, kActs>(r, i);
      for (; i < i1; ++i) tile.template run<kRows, 1>(r, i);
    }
    for (; r < r1; ++r) {
      int64_t i = i0;
      for (; i + kActs <= i1; i += kActs) tile.template run<1, kActs>(r, i);
      for (; i < i1; ++i) tile.template run<1, 1>(r, i);
    }
  }
}

}  // namespace qtune::native
