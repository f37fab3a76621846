// Quantization math, INC's formulas (shared/reference/inc-torch-api.md §1.3):
//   asym: scale = (max-min)/(2^b-1), zero = round(-min/scale), range forced to contain 0,
//         q = clamp(round(w/scale) + zero, 0, 2^b-1),          w' = (q - zero) * scale
//   sym:  scale = absmax/(2^(b-1)-1)  (full_range: absmax/2^(b-1)),
//         q = clamp(round(w/scale), -2^(b-1), 2^(b-1)-1),     w' = q * scale
//         full_range maps the larger-magnitude extreme to -2^(b-1) exactly, so the scale is
//         negative when that extreme is positive (INC; ties flip too, see quantize.cpp).
//         1-bit sym has qmax = 0 and always uses the full_range form (codes {-1, 0}).
//         sym_grid kGptq (GPTQ's grid): scale = 2*absmax/(2^b-1), same codes and w'; the
//         positive extreme (absmax/scale = 2^(b-1) - 0.5, a tie) rounds to 2^(b-1) and is
//         clamped to 2^(b-1)-1, the negative one reaches -2^(b-1) (INC: round, +zero, clamp).
// clip_ratio (INC quantile) multiplies min/max (asym) or absmax (sym) first.
// Rounding is round-half-to-even (ATen's round), as torch.round in INC.
// A group whose range is zero gets scale 1 (so all-zero weights stay zero, no NaN).
// nf4/fp4 (INC quantize_4bit): scale = absmax * clip_ratio / max(table), the code
//   is the index of the nearest table value, a tie going to the lower one
//   (INC compares with the midpoints using <=), w' = table[q] * scale.
// float_zero (HQQ): zero is float32 and q = clamp(round(w/scale + zero), 0, 2^b-1).
// These functions work on the 2-D matrix they are given; spec.group_dim is
// applied by quant_matrix() (QuantizedWeight and fake_quantize call it).
#pragma once

#include <ATen/ATen.h>

#include "quant/quant_spec.h"

namespace qtune {

/// Per-group parameters of a 2-D weight [rows, cols].
struct QuantParams {
  at::Tensor scale;  ///< float32 [rows, groups]  (per-tensor: [1, 1])
  at::Tensor zero;   ///< int32   [rows, groups]; all zeros for sym; float32 if spec.float_zero
};

/// The 2-D matrix a weight is quantized as: [rows, cols] (group_dim 1) or its
/// transpose (group_dim 0), float32, contiguous.
at::Tensor quant_matrix(const at::Tensor& w, const QuantSpec& spec);
/// Inverse of quant_matrix: back to `shape`.
at::Tensor from_quant_matrix(const at::Tensor& m, const QuantSpec& spec, at::IntArrayRef shape);

/// Computes scale and zero point of each group of `w` (float, 2-D).
QuantParams compute_params(const at::Tensor& w, const QuantSpec& spec);

/// Integer codes of `w` (int32 [rows, cols]) in [spec.qmin(), spec.qmax()].
at::Tensor quantize_codes(const at::Tensor& w, const QuantParams& p, const QuantSpec& spec);

/// Float weights back from codes: (q - zero) * scale, float32 [rows, cols].
at::Tensor dequantize_codes(const at::Tensor& codes, const QuantParams& p, const QuantSpec& spec);

/// quantize then dequantize ("fake quantization"): the weights a quantized layer
/// computes with (any shape, rows first; group_dim applied).
at::Tensor fake_quantize(const at::Tensor& w, const QuantSpec& spec);

}  // namespace qtune
