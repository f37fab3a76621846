// ggml's 32-value quantized blocks, made from qtune's integer codes (no
// re-rounding of the codes; only the scales become fp16). Layouts as ggml's
// ggml-common.h defines them, little-endian:
//
//   Q8_0 (34 B): | d fp16 | q[0] .. q[31] int8 |              x[i] = d * q[i]
//   Q4_0 (18 B): | d fp16 | qs[0] .. qs[15] |                 x[i] = d * (nibble_i - 8)
//   Q4_1 (20 B): | d fp16 | m fp16 | qs[0] .. qs[15] |        x[i] = d * nibble_i + m
//
//   qs[j] = nibble_j | nibble_(j+16) << 4: the low nibbles hold elements 0..15,
//   the high nibbles elements 16..31 (not interleaved pairs):
//     qs[0]  bits 7..4 = element 16, bits 3..0 = element 0
//     qs[15] bits 7..4 = element 31, bits 3..0 = element 15
//
// fp16 conversion rounds to nearest, ties to even (as ggml's GGML_FP32_TO_FP16).
#pragma once

#include <cstdint>
#include <vector>

namespace qtune {

/// Q8_0 blocks of `n` (a multiple of 32) sym int8 codes in [-128, 127], one scale per block.
std::vector<uint8_t> encode_q8_0(const int32_t* codes, const float* block_scales, int64_t n);
/// Q4_0 blocks of `n` sym int4 codes in [-8, 7] (stored as code + 8), one scale per block.
std::vector<uint8_t> encode_q4_0(const int32_t* codes, const float* block_scales, int64_t n);
/// Q4_1 blocks of `n` asym int4 codes in [0, 15], one d and one m per block.
std::vector<uint8_t> encode_q4_1(const int32_t* codes, const float* block_d, const float* block_m,
                                 int64_t n);

/// ggml's own reference quantizers (quantize_row_q8_0_ref / quantize_row_q4_0_ref),
/// for a float row the codes of which no ggml type carries as they are.
std::vector<uint8_t> requantize_q8_0(const float* x, int64_t n);
std::vector<uint8_t> requantize_q4_0(const float* x, int64_t n);

}  // namespace qtune
