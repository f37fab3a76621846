// The tokenizer part of a GGUF file (tokenizer.ggml.*), from a Hugging Face
// model directory, as llama.cpp's convert_hf_to_gguf.py writes it:
//   tokenizer.json (byte-level BPE): model "gpt2", pre = the llama.cpp
//     pre-tokenizer whose split regex is the file's ("gpt-2", "llama-bpe",
//     "qwen2"; another regex is refused), tokens in the file's byte-level
//     spelling, merges "a b", token types (special added tokens CONTROL, other
//     added tokens USER_DEFINED, the rest NORMAL).
//   tokenizer.model (SentencePiece): model "llama", pre "default", pieces,
//     scores and the piece types as the model stores them.
// Ids the model has but the tokenizer lacks become "[PAD<i>]" (UNUSED), as the
// converter pads them. bos/eos/unk/pad ids and add_bos_token follow what
// qtune's tokenizer does (it prepends BOS when it has one).
#pragma once

#include <cstdint>
#include <filesystem>

#include "storage/formats/gguf_writer.h"

namespace qtune {

/// llama.cpp's token types (llama_token_type / gguf TokenType).
enum class GgufTokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

/// Adds the tokenizer of `dir` for a model of `vocab_size` ids; a tokenizer
/// llama.cpp cannot reproduce is a qtune::Error naming the file and why.
void add_gguf_tokenizer(GgufWriter& w, const std::filesystem::path& dir, int64_t vocab_size);

}  // namespace qtune
