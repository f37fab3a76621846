// The runtime form of a weight-only layer for the native kernels: codes in
// blocks of 32 reduction columns, each block with its own fp16 scale, so
// that one SIMD load brings a block's codes and every kernel sees the same
// shape whatever algorithm, group size or code width produced the weight.
// Built once when a layer is installed (repack.h); qtune's stored form
// (QuantizedWeight) is not kept beside it. No ATen here: the ISA files
// include this header and compile in seconds.
//
// Meaning. For output row r and padded reduction position p (block b = p / 32):
//   W[r, column_of(p)] = global_scale * d[r, b] * (c(r, p) - offset(r, b))     int codes
//   W[r, column_of(p)] = global_scale * (d[r, b] * c(r, p) + m[r, b])          float zero (HQQ)
//   W[r, column_of(p)] = global_scale * d[r, b] * table[c(r, p)]               nf4 / fp4
// where offset(r, b) = code_offset + (has_zero ? zero[r, b] : 0). Positions
// whose column_of is -1 (padding) have code 0 and read activation 0, so they
// add nothing.
//
// Codes from qtune's stored form u (unsigned, packing.h) of a `bits`-bit spec:
//   bits 1..4 -> kU4, c = u: sym code_offset = 2^(bits-1); asym code_offset = 0
//                with has_zero (zero = the integer zero point, 0..15).
//   bits 5..8 -> kS8, c = u - 2^(bits-1) (int8): sym code_offset = 0 (c is the
//                signed code q); asym code_offset = -2^(bits-1) with has_zero
//                (zero = the zero point, 0..255), so c - offset = u - zero
//                exactly although u - zero may not fit int8.
//   float zero (HQQ): m = scale * (2^(bits-1) [kS8 only] - zero) / global_scale.
//   nf4/fp4 -> kTable4, c = u, table = dtype_table (fp4: 15 values, table[15] = 0).
//
// Why fp16 scales: int4 g32 with fp32 scales is 5 bits per weight, with fp16
// 4.5; a GEMV is a stream over the weight bytes. global_scale is the power of
// two that brings the largest |d| or |m| of the layer into [2^14, 2^15): every
// fp16 d, m stays finite, and normal (2^-11 relative rounding) down to 2^-29 of
// the largest scale. d and m are rounded to fp16 to nearest, ties to even.
//
// Code bytes of one block (32 codes), row r, block b at
// codes + (r * blocks + b) * bytes_per_block:
//   kU4, kTable4 (16 bytes):  byte j = c[j] | c[j + 16] << 4   (j = 0..15)
//        bit 7      4 3      0
//           | c[j+16] | c[j] |
//   kS8 (32 bytes):           byte j = c[j] as int8
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qtune::native {

constexpr int64_t kBlock = 32;  ///< reduction columns per block (one scale, one activation scale)

enum class CodeFormat : uint8_t {
  kU4,      ///< unsigned 4-bit codes (int2, int3, int4 widen to this), 16 bytes a block
  kS8,      ///< signed 8-bit codes with the offset already subtracted, 32 bytes a block
  kTable4,  ///< 4-bit indexes into `table` (nf4, fp4), 16 bytes a block
};
int64_t bytes_per_block(CodeFormat f);

/// Memory aligned to 64 bytes (one cache line, one AVX-512 load).
struct AlignedBytes {
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t[], Free> data;
  int64_t size = 0;
  static AlignedBytes zeros(int64_t size);
};

struct PackedWeight {
  int64_t rows = 0;    ///< N: output features
  int64_t cols = 0;    ///< K: input features the layer reads (x has K columns)
  int64_t blocks = 0;  ///< blocks per row; the padded reduction length is blocks * kBlock
  int bits = 4;        ///< code width of the source (1..8): recorded, not used by kernels
  CodeFormat format = CodeFormat::kU4;
  /// Subtracted from every code (with zero[r, b] when has_zero), see above.
  int32_t code_offset = 0;
  bool has_zero = false;  ///< asym int: zero[r, b] (uint8) is subtracted too
  bool has_min = false;   ///< float zero point: m[r, b] (fp16) added instead
  float global_scale = 1.0f;
  AlignedBytes codes;             ///< [rows][blocks][bytes_per_block(format)]
  std::vector<uint16_t> d;        ///< fp16 [rows][blocks], relative to global_scale
  std::vector<uint8_t> zero;      ///< [rows][blocks] when has_zero
  std::vector<uint16_t> m;        ///< fp16 [rows][blocks] when has_min, relative to global_scale
  std::array<float, 16> table{};  ///< kTable4 values
  /// Input column read at padded position p, -1 = padding (reads 0). Empty
  /// means the identity: position p reads column p, positions >= cols read 0.
  /// Non-empty for act_order (g_idx: columns sorted by group) and for groups
  /// that are not a multiple of kBlock (each group padded to whole blocks).
  std::vector<int32_t> column_of;

  int64_t padded_cols() const { return blocks * kBlock; }
  /// Bytes a forward pass streams: codes, scales, zero points or mins.
  int64_t stream_bytes() const;
};

}  // namespace qtune::native
