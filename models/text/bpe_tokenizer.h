// Byte-level BPE as Hugging Face's tokenizer.json describes it (GPT-2,
// Llama-3, Qwen2): added/special tokens are cut out first, the rest is split
// by the pre-tokenizer's regex (PCRE2, UTF + UCP), each piece's bytes are
// mapped to printable characters with GPT-2's byte-to-unicode table, and the
// merges are applied by rank.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/json.h"
#include "models/text/tokenizer.h"

namespace qtune {

/// The split patterns of the common byte-level tokenizers.
extern const char* const kGpt2SplitPattern;
extern const char* const kLlama3SplitPattern;
extern const char* const kQwen2SplitPattern;

/// GPT-2's byte-to-unicode map: each byte becomes one printable code point
/// (UTF-8 encoded), so any byte string is a string of visible characters.
std::string byte_level_encode(const std::string& bytes);
/// The inverse; a character outside the map is a qtune::Error.
std::string byte_level_decode(const std::string& chars);

/// Splits `text` into consecutive pieces that are the regex matches plus the
/// unmatched stretches between them (HF Split with behaviour "Isolated"), so
/// the pieces always concatenate back to `text`. Invalid UTF-8 is allowed:
/// such text is matched byte by byte. A pattern that does not compile is a
/// qtune::Error quoting PCRE2's message.
class RegexSplitter {
 public:
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;
  std::vector<std::string> split(const std::string& text) const;
  const std::string& pattern() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class BpeTokenizer : public Tokenizer {
 public:
  /// Reads a tokenizer.json; errors name the file and the field.
  static std::unique_ptr<BpeTokenizer> from_file(const std::filesystem::path& tokenizer_json);
  /// Builds from parsed JSON; `where` names its origin in error messages.
  static std::unique_ptr<BpeTokenizer> from_json(const nlohmann::json& j, const std::string& where);
  ~BpeTokenizer() override;

  std::vector<int64_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> bos_id() const override;
  std::optional<int64_t> eos_id() const override;
  int64_t token_bytes(int64_t id) const override;
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string kind() const override { return "bpe"; }

  /// The pieces the pre-tokenizer makes of `text` (no added tokens inside).
  std::vector<std::string> pre_tokenize(const std::string& text) const;
  /// The vocabulary spelling of `id` ("Ġthe", "<|endoftext|>").
  const std::string& id_to_token(int64_t id) const;

 private:
  BpeTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qtune
