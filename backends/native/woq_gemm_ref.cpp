// The reference twin of the native kernels: plain C++, one output at a time,
// written from the meaning in packed_weight.h and woq_gemm.h. Every SIMD path
// is tested against it.
#include <cmath>

#include "common/fp16.h"
#include "backends/native/isa_entries.h"
#include "common/error.h"

namespace qtune::native {

namespace {

/// The input column read at padded position p, -1 for padding.
int64_t column_at(const PackedWeight& w, int64_t p) {
  if (!w.column_of.empty()) return w.column_of[p];
  return p < w.cols ? p : -1;
}

/// Code j (0..31) of block b of row r.
int32_t code_at(const PackedWeight& w, int64_t r, int64_t b, int j) {
  const uint8_t* block = w.codes.data.get() + (r * w.blocks + b) * bytes_per_block(w.format);
  if (w.format == CodeFormat::kS8) return static_cast<int8_t>(block[j]);
  return j < 16 ? (block[j] & 0x0F) : (block[j - 16] >> 4);
}

int32_t offset_at(const PackedWeight& w, int64_t r, int64_t b) {
  return w.code_offset + (w.has_zero ? w.zero[r * w.blocks + b] : 0);
}

/// Sizes `a` for x [m, w.cols]; vectors only grow, so a reused `a` does not allocate.
void size_for(const PackedWeight& w, int64_t m, PreparedActivations* a) {
  a->m = m;
  a->padded_cols = w.padded_cols();
  const auto grow = [](auto& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(n);
  };
  grow(a->scale, m * w.blocks);
  grow(a->code_sum, m * w.blocks);
  grow(a->sum, m * w.blocks);
}

/// Block b of row i of x, gathered through column_of (padding reads 0).
void gather_block(const PackedWeight& w, const float* x, int64_t ldx, int64_t i, int64_t b,
                  float* out) {
  for (int j = 0; j < kBlock; ++j) {
    const int64_t col = column_at(w, b * kBlock + j);
    out[j] = col < 0 ? 0.0f : x[i * ldx + col];
  }
}

}  // namespace

void ref_prepare_float(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
                       PreparedActivations* a) {
  size_for(w, m, a);
  if (static_cast<int64_t>(a->x.size()) < m * a->padded_cols) a->x.resize(m * a->padded_cols);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t b = 0; b < w.blocks; ++b) {
      float* xb = a->x.data() + i * a->padded_cols + b * kBlock;
      gather_block(w, x, ldx, i, b, xb);
      float s = 0.0f;
      for (int j = 0; j < kBlock; ++j) s += xb[j];
      a->sum[i * w.blocks + b] = s;
    }
}

void ref_prepare_int8(const PackedWeight& w, const float* x, int64_t m, int64_t ldx,
                      PreparedActivations* a) {
  size_for(w, m, a);
  if (static_cast<int64_t>(a->q.size()) < m * a->padded_cols) a->q.resize(m * a->padded_cols);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t b = 0; b < w.blocks; ++b) {
      float xb[kBlock];
      gather_block(w, x, ldx, i, b, xb);
      float amax = 0.0f, s = 0.0f;
      for (int j = 0; j < kBlock; ++j) {
        amax = std::max(amax, std::fabs(xb[j]));
        s += xb[j];
      }
      // 127 / amax once, then a multiply per value: the SIMD paths do the
      // same two fp32 operations, so every q is identical across ISAs.
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      int8_t* q = a->q.data() + i * a->padded_cols + b * kBlock;
      int32_t qsum = 0;
      for (int j = 0; j < kBlock; ++j) {
        q[j] = static_cast<int8_t>(std::nearbyint(xb[j] * inv));
        qsum += q[j];
      }
      a->scale[i * w.blocks + b] = amax / 127.0f;
      a->code_sum[i * w.blocks + b] = qsum;
      a->sum[i * w.blocks + b] = s;
    }
}

void ref_gemm_rows_float(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                         float* y, int64_t ldy, int64_t r0, int64_t r1) {
  QT_ASSERT(a.padded_cols == w.padded_cols());
  for (int64_t i = 0; i < a.m; ++i)
    for (int64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (int64_t b = 0; b < w.blocks; ++b) {
        const float* xb = a.x.data() + i * a.padded_cols + b * kBlock;
        const int32_t off = offset_at(w, r, b);
        float dot = 0.0f;
        for (int j = 0; j < kBlock; ++j) {
          const int32_t c = code_at(w, r, b, j);
          const float wv = w.format == CodeFormat::kTable4 ? w.table[c] : float(c - off);
          dot += wv * xb[j];
        }
        acc += fp16_to_float(w.d[r * w.blocks + b]) * dot;
        if (w.has_min) acc += fp16_to_float(w.m[r * w.blocks + b]) * a.sum[i * w.blocks + b];
      }
      y[i * ldy + r] = w.global_scale * acc + (bias ? bias[r] : 0.0f);
    }
}

void ref_gemm_rows_int8(const PackedWeight& w, const PreparedActivations& a, const float* bias,
                        float* y, int64_t ldy, int64_t r0, int64_t r1) {
  QT_ASSERT(a.padded_cols == w.padded_cols());
  QT_ASSERT(path_supports(Path::kInt8Activations, w.format));
  for (int64_t i = 0; i < a.m; ++i)
    for (int64_t r = r0; r < r1; ++r) {
      float acc = 0.0f;
      for (int64_t b = 0; b < w.blocks; ++b) {
        const int8_t* q = a.q.data() + i * a.padded_cols + b * kBlock;
        int32_t dot = 0;
        for (int j = 0; j < kBlock; ++j) dot += code_at(w, r, b, j) * q[j];
        const int32_t isum = dot - offset_at(w, r, b) * a.code_sum[i * w.blocks + b];
        const float d = fp16_to_float(w.d[r * w.blocks + b]);
        acc += d * a.scale[i * w.blocks + b] * static_cast<float>(isum);
        if (w.has_min) acc += fp16_to_float(w.m[r * w.blocks + b]) * a.sum[i * w.blocks + b];
      }
      y[i * ldy + r] = w.global_scale * acc + (bias ? bias[r] : 0.0f);
    }
}

}  // namespace qtune::native
