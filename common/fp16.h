// IEEE fp16 <-> fp32 in plain C++, for native repack and its reference twin
// and for GGUF blocks (the native ISA files use F16C). Round to nearest, ties
// to even, as F16C's vcvtps2ph with imm 0 and as ATen's at::Half, so repack,
// the reference and the SIMD paths read the same numbers. Adapted from
// Maratyszcza's FP16 library (fp16_ieee_from_fp32_value /
// fp16_ieee_to_fp32_value); needs IEEE float arithmetic in float precision
// (no -ffast-math).
#pragma once

#include <cstdint>
#include <cstring>

namespace qtune {

inline uint32_t fp32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float fp32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float fp16_to_float(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  // Normal: shift the exponent/mantissa into place and rebias by a multiply.
  const float normalized = fp32_from_bits((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  // Subnormal: the mantissa as the low bits of 0.5f's significand, minus 0.5f.
  const float denormalized = fp32_from_bits((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t result =
      sign | (two_w < (1u << 27) ? fp32_bits(denormalized) : fp32_bits(normalized));
  return fp32_from_bits(result);
}

inline uint16_t fp16_from_float(float f) {
  // The two multiplies round the mantissa to 10 bits (ties to even) and send
  // values beyond fp16's range to infinity; the added bias aligns the exponent.
  float base = (__builtin_fabsf(f) * 0x1.0p+112f) * 0x1.0p-110f;
  const uint32_t w = fp32_bits(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = fp32_from_bits((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = fp32_bits(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

}  // namespace qtune
