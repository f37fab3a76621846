// The ISA-independent parts of the native int8 GEMM: gathering activation rows
// (im2col for convolutions), the reference's epilogue, and the dispatch.
#include "backends/native/int8_gemm.h"

#include <cstring>

#include "backends/activation_code.h"
#include "common/error.h"

namespace qtune::native {

namespace {

// Runs of a few bytes (a tap's channels, or a row of taps): std::memcpy with a
// variable size is a library call, which costs more than these copies.
inline void copy_bytes(uint8_t* d, const uint8_t* s, int64_t n) {
  if (n >= 8) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) std::memcpy(d + i, s + i, 8);
    if (i < n) std::memcpy(d + n - 8, s + n - 8, 8);  // overlaps the last whole word
    return;
  }
  if (n & 4) std::memcpy(d, s, 4), d += 4, s += 4;
  if (n & 2) std::memcpy(d, s, 2), d += 2, s += 2;
  if (n & 1) *d = *s;
}

}  // namespace

void gather_rows(const Int8Source& s, int64_t m0, int64_t rows, uint8_t* dst) {
  if (!s.conv) {
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(dst + r * s.k, s.data + (m0 + r) * s.lda, static_cast<size_t>(s.k));
    return;
  }
  const uint8_t pad = static_cast<uint8_t>(s.zero_point);
  const int64_t c = s.channels;
  // Without dilation or a group slice, a row of kw taps is one run of kw * c bytes.
  const bool runs = s.dilation_w == 1 && s.channels == s.channel_stride;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t m = m0 + r;
    const int64_t ox = m % s.ow, oy = (m / s.ow) % s.oh, b = m / (s.ow * s.oh);
    const int64_t ix0 = ox * s.stride_w - s.pad_w;
    uint8_t* out = dst + r * s.k;
    for (int64_t i = 0; i < s.kh; ++i) {
      const int64_t iy = oy * s.stride_h - s.pad_h + i * s.dilation_h;
      if (iy < 0 || iy >= s.h) {
        std::memset(out, pad, static_cast<size_t>(s.kw * c));
        out += s.kw * c;
        continue;
      }
      const uint8_t* row = s.data + (b * s.h + iy) * s.w * s.channel_stride + s.channel_offset;
      if (runs && ix0 >= 0 && ix0 + s.kw <= s.w) {
        copy_bytes(out, row + ix0 * c, s.kw * c);
        out += s.kw * c;
        continue;
      }
      for (int64_t j = 0; j < s.kw; ++j, out += c) {
        const int64_t ix = ix0 + j * s.dilation_w;
        if (ix < 0 || ix >= s.w)
          std::memset(out, pad, static_cast<size_t>(c));
        else
          copy_bytes(out, row + ix * s.channel_stride, c);
      }
    }
  }
}

void apply_epilogue(const int32_t* acc, int64_t ld_acc, int64_t m0, int64_t rows, int64_t n0,
                    int64_t n1, const Int8Epilogue& e) {
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * ld_acc;
    for (int64_t n = n0; n < n1; ++n) {
      // The reference: (sum * scale) + bias in fp64, one rounding to fp32.
      double v = static_cast<double>(a[n - n0]) * e.scale[n];
      if (e.bias) v = v + e.bias[n];
      float f = static_cast<float>(v);
      if (e.relu) f = f > 0.0f ? f : 0.0f;
      const int64_t at = (m0 + r) * e.ldy + n;
      if (e.codes)
        e.codes[at] = static_cast<uint8_t>(
            activation_code(f, e.code_inv_scale, e.code_zero_point, 0.0f, 255.0f));
      else
        e.y[at] = f;
    }
  }
}

int64_t int8_n_block(Isa isa) {
  switch (isa) {
    case Isa::kRef:
      return 1;
    case Isa::kAvx2:
      return 8;
    case Isa::kAvx512:
      return 16;
  }
  QT_ASSERT(false, "unknown Isa ", static_cast<int>(isa));
  return 1;
}

Int8PackedWeights pack_int8(Isa isa, const int8_t* w, int64_t n, int64_t k) {
  QT_CHECK(k <= kInt8MaxK, "native int8: ", k, " inputs per output exceed the int32 sums' limit ",
           kInt8MaxK);
  switch (isa) {
    case Isa::kRef:
      return pack_int8_ref(w, n, k);
    case Isa::kAvx2:
      return pack_int8_avx2(w, n, k);
    case Isa::kAvx512:
      return pack_int8_avx512(w, n, k);
  }
  QT_ASSERT(false, "unknown Isa ", static_cast<int>(isa));
  return {};
}

void int8_gemm(const Int8Source& a, const Int8PackedWeights& b, const Int8Epilogue& e, int64_t m0,
               int64_t m1, int64_t n0, int64_t n1) {
  QT_ASSERT(a.k == b.k && n0 % int8_n_block(b.isa) == 0 && n1 <= b.n);
  if (m0 >= m1 || n0 >= n1) return;
  switch (b.isa) {
    case Isa::kRef:
      return int8_gemm_ref(a, b, e, m0, m1, n0, n1);
    case Isa::kAvx2:
      return int8_gemm_avx2(a, b, e, m0, m1, n0, n1);
    case Isa::kAvx512:
      return int8_gemm_avx512(a, b, e, m0, m1, n0, n1);
  }
}

std::vector<int32_t> int8_row_sums(const int8_t* w, int64_t n, int64_t k) {
  std::vector<int32_t> sums(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) sums[i] += w[i * k + j];
  return sums;
}

}  // namespace qtune::native
