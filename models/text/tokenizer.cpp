// load_tokenizer: which file of a model directory holds its tokenizer.
#include "models/text/tokenizer.h"

#include "common/error.h"
#include "models/text/bpe_tokenizer.h"
#include "models/text/sentencepiece_tokenizer.h"

namespace qtune {

TokenizerPtr load_tokenizer(const std::filesystem::path& dir) {
  const auto json = dir / "tokenizer.json";
  const auto spm = dir / "tokenizer.model";
  const bool has_json = std::filesystem::is_regular_file(json);
  const bool has_spm = std::filesystem::is_regular_file(spm);
  QT_CHECK(has_json || has_spm, "tokenizer: ", dir.string(),
           " has neither tokenizer.json (byte-level BPE) nor tokenizer.model (SentencePiece)");
  if (has_json) {
    try {
      return BpeTokenizer::from_file(json);
    } catch (const Error&) {
      // Llama-2/Mistral ship a SentencePiece-style tokenizer.json (Metaspace)
      // next to tokenizer.model: the latter is the exact one.
      if (!has_spm) throw;
    }
  }
  return std::make_unique<SentencePieceTokenizer>(spm);
}

}  // namespace qtune
