// Training a byte-level BPE tokenizer (the built-in tiny LM's tokenizer):
// the text is pre-tokenized with a split regex (GPT-2's by default), distinct
// pieces are counted, and the most frequent adjacent pair is merged until the
// vocabulary has the requested size. Counting distinct pieces first makes the
// 4.3 MB bible train in seconds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"

namespace qtune {

struct BpeTrainOptions {
  /// Final vocabulary size: 256 byte tokens + merges + special tokens.
  int64_t vocab_size = 1024;
  std::string split_pattern;  ///< "" = GPT-2's (kGpt2SplitPattern)
  /// Added after the merges, in this order, marked special in tokenizer.json.
  /// The first one is the BOS/EOS/document separator, as GPT-2's <|endoftext|>.
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  /// A pair seen fewer times than this is never merged (training stops early,
  /// giving a smaller vocabulary).
  int64_t min_frequency = 2;
  /// When the text runs out of pairs before vocab_size (every pair left is
  /// rarer than min_frequency), fill the vocabulary up to exactly vocab_size
  /// with special tokens "<|reserved_0|>", "<|reserved_1|>", ... after
  /// `special_tokens`: a model's shapes then do not depend on the text.
  bool pad_with_reserved = false;
};

/// A trained byte-level BPE model. Tokens are in byte-level spelling
/// (byte_level_encode), as tokenizer.json stores them.
struct BpeModel {
  /// id -> token: ids 0..255 are the single bytes 0..255, then one token per
  /// merge in merge order, then the special tokens.
  std::vector<std::string> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  ///< in rank order
  std::vector<std::string> special_tokens;
  std::string split_pattern;
};

/// Greedy BPE: each step merges the pair with the highest count over all
/// pre-tokenized pieces (weighted by piece frequency); ties go to the pair
/// whose (left id, right id) is smallest, so training is deterministic.
/// vocab_size below 256 + special tokens is a qtune::Error.
BpeModel train_bpe(const std::string& text, const BpeTrainOptions& options = {});

/// A Hugging Face tokenizer.json for `model` (model.type BPE, byte-level
/// pre-tokenizer with a Split of the pattern, ByteLevel decoder, added_tokens),
/// loadable by BpeTokenizer and by HF `tokenizers`.
Json bpe_to_tokenizer_json(const BpeModel& model);
void write_tokenizer_json(const BpeModel& model, const std::filesystem::path& file);

}  // namespace qtune
