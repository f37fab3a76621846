// The AWQ "GEMM" checkpoint layout of AutoAWQ (read by transformers and vLLM
// as quant_method awq, version gemm): the one place that packs and parses it,
// shared by the hf-awq exporter and the importer. A Linear [N = out, K = in],
// 4 bits, group size g (K % g == 0, N % 8 == 0):
//
//   qweight int32 [K, N/8]    codes packed along N
//   qzeros  int32 [K/g, N/8]  zero points packed along N, stored as they are
//   scales  fp16  [K/g, N]
//   W[n, k] = scales[k/g, n] * (q[k, n] - zero[k/g, n])
//
// Word c of a row holds the 8 values of columns 8c .. 8c+7 in AWQ's
// interleaved order: nibble slot i (bits 4i .. 4i+3) holds column 8c + order[i],
// order = [0, 2, 4, 6, 1, 3, 5, 7]:
//
//   bit 31                                                        bit 0
//   | col 7 | col 5 | col 3 | col 1 | col 6 | col 4 | col 2 | col 0 |
//
// A qtune sym layer (codes -8..7) is written with zero point 8 and codes
// q + 8; read back, a layer whose zero points all equal 8 is sym.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "common/json.h"
#include "quant/quantized_weight.h"
#include "storage/formats/hf_awq_config.h"

namespace qtune {

struct AwqTensors {
  at::Tensor qweight, qzeros, scales;
};

/// 4-bit codes int32 [rows, cols] (cols % 8 == 0) -> int32 [rows, cols/8], interleaved.
at::Tensor awq_pack_words(const at::Tensor& codes);
/// Inverse: int32 [rows, W] -> codes int32 [rows, 8W].
at::Tensor awq_unpack_words(const at::Tensor& words);

/// Why the layout cannot carry this quantized Linear ("property: what the
/// format needs"), or "" when it can.
std::string awq_cannot_carry(const QuantSpec& spec, const std::vector<int64_t>& shape);

/// Packs a layer the format carries; scales are rounded to fp16.
AwqTensors awq_pack(const QuantizedWeight& w, const std::string& layer);

/// Reads one layer back exactly; every error names `where` (the file) and the tensor.
QuantizedWeight awq_unpack(const AwqTensors& t, int64_t group_size, int64_t out, int64_t in,
                           const std::string& where, const std::string& layer);

}  // namespace qtune
