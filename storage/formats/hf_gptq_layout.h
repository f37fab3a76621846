// The GPTQ checkpoint layout of AutoGPTQ / GPTQModel, as transformers and vLLM
// read it: the one place that packs and parses it (the hf-gptq exporter and
// the importer both call this file). A Linear [N = out, K = in], bits b in
// {2, 3, 4, 8}, G groups (group_size -1: one group per output channel, G = 1):
//
//   qweight int32 [K*b/32, N]  codes packed along K
//   qzeros  int32 [G, N*b/32]  zero points packed along N; v1 ("gptq") stores
//                              zero - 1, v2 ("gptq_v2") the zero itself
//   scales  fp16  [G, N]
//   g_idx   int32 [K]          the group of each input channel (k / group_size
//                              unless act-order formed the groups)
//   W[n, k] = scales[g, n] * (q[k, n] - zero[g, n]),  g = g_idx[k]
//
// Packing is a little-endian bit stream over consecutive int32 words: value j
// of a column (qweight) or row (qzeros) sits at stream bits [b*j, b*j + b),
// i.e. in word (b*j)/32 from bit (b*j)%32, LSB first. For b = 2, 4, 8 a value
// never straddles words; for b = 3, 32 values fill exactly 3 words and values
// 10 and 21 straddle (AutoGPTQ's pack):
//
//   word 0: | v10 lo2 | v9 | ... | v1 | v0 |        bits 31..30 | 29..0
//   word 1: | v21 lo1 | v20 | ... | v11 | v10 hi1 |  bit 31 | 30..1 | 0
//   word 2: | v31 | ... | v22 | v21 hi2 |           bits 31..2 | 1..0
//
// A qtune sym layer (codes -2^(b-1) .. 2^(b-1)-1, w = q * scale) is written
// with the fixed zero point 2^(b-1) and codes q + 2^(b-1), as GPTQ's own sym
// grid is; read back, a layer whose zero points all equal 2^(b-1) is sym.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "quant/quantized_weight.h"
#include "storage/formats/hf_gptq_config.h"

namespace qtune {

/// One layer's tensors, named as in the checkpoint ("<layer>.qweight", ...).
struct GptqTensors {
  at::Tensor qweight, qzeros, scales, g_idx;
};

/// Bit-stream packing along each row (see the top of the file):
/// codes int32 [rows, L] in [0, 2^bits), L*bits % 32 == 0 -> int32 [rows, L*bits/32].
at::Tensor gptq_pack_stream(const at::Tensor& codes, int bits);
/// Inverse: words [rows, W] -> codes int32 [rows, W*32/bits].
at::Tensor gptq_unpack_stream(const at::Tensor& words, int bits);

/// Why the layout cannot carry this quantized Linear, as "property: what the
/// format needs", or "" when it can (checks the spec and shape; the zero
/// point 0 of v1 is checked by gptq_pack, which sees the values).
std::string gptq_cannot_carry(const QuantSpec& spec, const std::vector<int64_t>& shape);
/// The format a carried layer has in the config.
GptqLayerFormat gptq_layer_format(const QuantSpec& spec);

/// Packs a layer the format carries (gptq_cannot_carry() == ""). Scales are
/// rounded to fp16. `layer` names it in errors (an asym zero point 0 in v1).
GptqTensors gptq_pack(const QuantizedWeight& w, bool v1, const std::string& layer);

/// Reads one layer back, exactly: shapes, dtypes and value ranges are checked
/// against `format` and the layer's [out, in]; every error names `where`
/// (the file) and the tensor. g_idx may be undefined unless format.desc_act.
QuantizedWeight gptq_unpack(const GptqTensors& t, const GptqLayerFormat& format, bool v1,
                            int64_t out, int64_t in, const std::string& where,
                            const std::string& layer);

}  // namespace qtune
