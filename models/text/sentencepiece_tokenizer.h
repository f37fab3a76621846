// SentencePiece tokenizer.model (Llama-2, Mistral) through Debian's
// libsentencepiece; the library's own encoding, so ids match the model's.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "models/text/tokenizer.h"

namespace qtune {

/// Trains a SentencePiece model with the library's trainer (its command-line
/// flags, e.g. "--input=a.txt --model_prefix=m --vocab_size=300"): for tests
/// and tools. Failure is a qtune::Error quoting the library.
void train_sentencepiece(const std::string& trainer_args);

class SentencePieceTokenizer : public Tokenizer {
 public:
  /// Loads a tokenizer.model; a missing or unparsable file is a qtune::Error naming it.
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file);
  ~SentencePieceTokenizer() override;

  std::vector<int64_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> bos_id() const override;
  std::optional<int64_t> eos_id() const override;
  int64_t token_bytes(int64_t id) const override;
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string kind() const override { return "sentencepiece"; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qtune
