#include "backends/native/woq_decode.h"

#include "common/fp16.h"
#include "common/error.h"

namespace qtune::native {

namespace {

/// The 32 codes of one block, in position order.
void block_codes(const PackedWeight& w, const uint8_t* block, int32_t* c) {
  if (w.format == CodeFormat::kS8) {
    for (int j = 0; j < kBlock; ++j) c[j] = static_cast<int8_t>(block[j]);
    return;
  }
  for (int j = 0; j < 16; ++j) {
    c[j] = block[j] & 0x0F;
    c[j + 16] = block[j] >> 4;
  }
}

}  // namespace

void decode_rows(const PackedWeight& w, int64_t r0, int64_t r1, float* out) {
  QT_ASSERT(0 <= r0 && r0 <= r1 && r1 <= w.rows);
  const int64_t bpb = bytes_per_block(w.format);
  const bool identity = w.column_of.empty();
  for (int64_t r = r0; r < r1; ++r) {
    float* row = out + (r - r0) * w.cols;
    for (int64_t b = 0; b < w.blocks; ++b) {
      const int64_t i = r * w.blocks + b;
      int32_t c[kBlock];
      block_codes(w, w.codes.data.get() + i * bpb, c);
      const float s = w.global_scale * fp16_to_float(w.d[i]);
      float v[kBlock];
      if (w.format == CodeFormat::kTable4) {
        for (int j = 0; j < kBlock; ++j) v[j] = s * w.table[c[j]];
      } else {
        const int32_t off = w.code_offset + (w.has_zero ? w.zero[i] : 0);
        const float m = w.has_min ? w.global_scale * fp16_to_float(w.m[i]) : 0.0f;
        for (int j = 0; j < kBlock; ++j) v[j] = s * static_cast<float>(c[j] - off) + m;
      }
      const int64_t p0 = b * kBlock;
      if (identity) {
        const int64_t n = std::min<int64_t>(kBlock, w.cols - p0);
        for (int64_t j = 0; j < n; ++j) row[p0 + j] = v[j];
      } else {
        for (int j = 0; j < kBlock; ++j) {
          const int32_t col = w.column_of[p0 + j];
          if (col >= 0) row[col] = v[j];
        }
      }
    }
  }
}

}  // namespace qtune::native
