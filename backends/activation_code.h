// The one formula by which an fp32 activation becomes its integer code
// (quantize_activation in int8.h, and the native int8 kernels' fused u8
// output in int8_chain.h's chains). Torch-free: ISA files include it.
#pragma once

#include <cstdint>

namespace qtune {

/// nearbyint with ties to even for |v| < 2^22, without touching the rounding
/// mode: adding 1.5 * 2^23 leaves no fraction bits.
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

/// code = clamp(round_half_even(x * inv) + zp, qmin, qmax), inv = 1 / scale in
/// fp32. Clamping to [qmin - zp, qmax - zp] before rounding keeps |v| < 2^22
/// (and maps +-inf to the ends) without changing any in-range code.
inline int32_t activation_code(float x, float inv, int32_t zp, float qmin, float qmax) {
  const float lo = qmin - static_cast<float>(zp), hi = qmax - static_cast<float>(zp);
  float v = x * inv;
  v = v < lo ? lo : (v > hi ? hi : v);
  return static_cast<int32_t>(round_half_even(v) + static_cast<float>(zp));
}

}  // namespace qtune
