// Tokenizers for language models: text <-> token ids.
//
// Two families, found by the files of a Hugging Face model directory:
// tokenizer.json (byte-level BPE: GPT-2, Llama-3, Qwen2) and tokenizer.model
// (SentencePiece: Llama-2, Mistral). Both sit behind one interface, so that
// perplexity, calibration and generation never care which one a model uses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qtune {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Token ids of `text`. Adds no BOS/EOS: callers that want them prepend
  /// bos_id() themselves. Special tokens written in the text (e.g.
  /// "<|endoftext|>") are kept whole where the format defines them.
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;
  /// The text of `ids`; decode(encode(t)) == t for any byte string t with
  /// byte-level BPE (SentencePiece normalises, so only for normalised text).
  /// An id outside [0, vocab_size()) is a qtune::Error naming it.
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  /// Number of ids, special tokens included (ids are 0..vocab_size()-1).
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int64_t> bos_id() const { return std::nullopt; }
  virtual std::optional<int64_t> eos_id() const { return std::nullopt; }
  /// Bytes of text that token `id` stands for (for bits per byte, which is
  /// comparable across tokenizers): a byte-level BPE token's byte length, a
  /// SentencePiece piece's UTF-8 length with the "▁" word marker counted as
  /// one space byte, 0 for special/control tokens.
  virtual int64_t token_bytes(int64_t id) const = 0;
  /// The id of a token spelled exactly `token` in the vocabulary (as stored:
  /// byte-level "Ġthe", SentencePiece "▁the", or a special "<|endoftext|>").
  virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
  /// "bpe" or "sentencepiece".
  virtual std::string kind() const = 0;
};

using TokenizerPtr = std::unique_ptr<Tokenizer>;

/// The tokenizer of a model directory: tokenizer.json (byte-level BPE) is
/// preferred, else tokenizer.model (SentencePiece). Neither file, or a file
/// that does not parse, is a qtune::Error naming the directory/file.
TokenizerPtr load_tokenizer(const std::filesystem::path& dir);

}  // namespace qtune
