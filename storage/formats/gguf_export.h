// Export of a Llama-family model to GGUF as llama.cpp reads it (one .gguf file):
//
//   tensors   token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output,
//             ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm, output (absent
//             when tied to token_embd and unquantized); q/k rows (and biases)
//             permuted from HF's rotate_half layout to ggml's adjacent pairs.
//   types     a quantized layer's codes are carried as they are: int8 sym ->
//             Q8_0, int4 sym -> Q4_0, int4 asym -> Q4_1, when every block of 32
//             columns lies in one group (a group of any multiple of 32; a larger
//             group repeats its scale per block); scales become fp16. Unquantized
//             matrices keep the checkpoint's dtype (F32, F16 or BF16); norms are F32.
//   metadata  general.*, llama.* (context, embedding, blocks, feed-forward,
//             rope, heads, KV heads, RMS epsilon, vocab size), general.file_type.
//   tokenizer tokenizer.json (byte-level BPE) -> tokenizer.ggml.model "gpt2" and
//             the tokenizer.ggml.pre whose split regex equals the file's;
//             tokenizer.model (SentencePiece) -> "llama" with scores and types.
//
// What no ggml type carries exactly (other bit widths, nf4/fp4, act-order,
// double quant, float zero points, group_dim 0, groups or rows that are not
// multiples of 32, int8 activation quantization, inserted input multipliers)
// is refused with one line naming the layer and the property, unless
// options.requantize: then the layer's dequantized weight is re-quantized with
// ggml's own Q8_0 (8-bit) or Q4_0 (fewer bits) rounding and listed in the notes.
#pragma once

#include <filesystem>

#include "storage/formats/export.h"

namespace qtune {

ExportReport export_gguf(const ExportInput& in, const std::filesystem::path& out);

}  // namespace qtune
