#include "storage/formats/ggml_blocks.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/fp16.h"

namespace qtune {

namespace {

constexpr int64_t kBlock = 32;

void put_fp16(uint8_t* p, float f) {
  const uint16_t h = fp16_from_float(f);
  p[0] = static_cast<uint8_t>(h & 0xFF);
  p[1] = static_cast<uint8_t>(h >> 8);
}

void check_blocks(int64_t n, const char* type) {
  QT_ASSERT(n % kBlock == 0, type, " blocks need a multiple of 32 values, got ", n);
}

/// Q4_0 and Q4_1 share the nibble layout: element j low, element j+16 high.
void put_nibbles(uint8_t* qs, const int32_t* u) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(u[j] | (u[j + 16] << 4));
}

}  // namespace

std::vector<uint8_t> encode_q8_0(const int32_t* codes, const float* block_scales, int64_t n) {
  check_blocks(n, "Q8_0");
  std::vector<uint8_t> out(static_cast<size_t>(n / kBlock * 34));
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint8_t* p = out.data() + b * 34;
    put_fp16(p, block_scales[b]);
    for (int j = 0; j < kBlock; ++j) {
      const int32_t q = codes[b * kBlock + j];
      QT_ASSERT(q >= -128 && q <= 127, "Q8_0 code ", q, " outside [-128, 127]");
      p[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }
  return out;
}

std::vector<uint8_t> encode_q4_0(const int32_t* codes, const float* block_scales, int64_t n) {
  check_blocks(n, "Q4_0");
  std::vector<uint8_t> out(static_cast<size_t>(n / kBlock * 18));
  int32_t u[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint8_t* p = out.data() + b * 18;
    put_fp16(p, block_scales[b]);
    for (int j = 0; j < kBlock; ++j) {
      const int32_t q = codes[b * kBlock + j];
      QT_ASSERT(q >= -8 && q <= 7, "Q4_0 code ", q, " outside [-8, 7]");
      u[j] = q + 8;
    }
    put_nibbles(p + 2, u);
  }
  return out;
}

std::vector<uint8_t> encode_q4_1(const int32_t* codes, const float* block_d, const float* block_m,
                                 int64_t n) {
  check_blocks(n, "Q4_1");
  std::vector<uint8_t> out(static_cast<size_t>(n / kBlock * 20));
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint8_t* p = out.data() + b * 20;
    put_fp16(p, block_d[b]);
    put_fp16(p + 2, block_m[b]);
    const int32_t* u = codes + b * kBlock;
    for (int j = 0; j < kBlock; ++j)
      QT_ASSERT(u[j] >= 0 && u[j] <= 15, "Q4_1 code ", u[j], " outside [0, 15]");
    put_nibbles(p + 4, u);
  }
  return out;
}

std::vector<uint8_t> requantize_q8_0(const float* x, int64_t n) {
  check_blocks(n, "Q8_0");
  std::vector<int32_t> codes(static_cast<size_t>(n));
  std::vector<float> scales(static_cast<size_t>(n / kBlock));
  for (int64_t b = 0; b < n / kBlock; ++b) {
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[b * kBlock + j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    scales[b] = d;
    for (int j = 0; j < kBlock; ++j)
      codes[b * kBlock + j] = static_cast<int32_t>(std::round(x[b * kBlock + j] * id));
  }
  return encode_q8_0(codes.data(), scales.data(), n);
}

std::vector<uint8_t> requantize_q4_0(const float* x, int64_t n) {
  check_blocks(n, "Q4_0");
  std::vector<int32_t> codes(static_cast<size_t>(n));
  std::vector<float> scales(static_cast<size_t>(n / kBlock));
  for (int64_t b = 0; b < n / kBlock; ++b) {
    // The signed value of largest magnitude maps to code -8 exactly (ggml's choice).
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kBlock; ++j) {
      const float v = x[b * kBlock + j];
      if (amax < std::fabs(v)) {
        amax = std::fabs(v);
        max = v;
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    scales[b] = d;
    for (int j = 0; j < kBlock; ++j) {
      // ggml truncates x*id + 8.5 toward zero: round half up within [0, 15].
      const int32_t u =
          std::min(15, static_cast<int>(static_cast<int8_t>(x[b * kBlock + j] * id + 8.5f)));
      codes[b * kBlock + j] = u - 8;
    }
  }
  return encode_q4_0(codes.data(), scales.data(), n);
}

}  // namespace qtune
