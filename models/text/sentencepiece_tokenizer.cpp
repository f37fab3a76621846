// SentencePiece through Debian's libsentencepiece.
#include "models/text/sentencepiece_tokenizer.h"

#include "common/error.h"

#if QTUNE_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>

namespace qtune {

struct SentencePieceTokenizer::Impl {
  std::string where;
  sentencepiece::SentencePieceProcessor sp;
};

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file)
    : impl_(std::make_unique<Impl>()) {
  impl_->where = model_file.string();
  QT_CHECK(std::filesystem::is_regular_file(model_file), "tokenizer: ", model_file.string(),
           " does not exist or is not a file");
  auto status = impl_->sp.Load(model_file.string());
  QT_CHECK(status.ok(), model_file.string(), ": not a SentencePiece model: ", status.ToString());
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int64_t> SentencePieceTokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  auto status = impl_->sp.Encode(text, &ids);
  QT_CHECK(status.ok(), impl_->where, ": encode failed: ", status.ToString());
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> v;
  v.reserve(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    QT_CHECK(ids[k] >= 0 && ids[k] < vocab_size(), "decode: token id ", ids[k], " at position ", k,
             " is not in the vocabulary of ", impl_->where, " (size ", vocab_size(), ")");
    v.push_back(static_cast<int>(ids[k]));
  }
  std::string out;
  auto status = impl_->sp.Decode(v, &out);
  QT_CHECK(status.ok(), impl_->where, ": decode failed: ", status.ToString());
  return out;
}

int64_t SentencePieceTokenizer::vocab_size() const { return impl_->sp.GetPieceSize(); }

std::optional<int64_t> SentencePieceTokenizer::bos_id() const {
  int id = impl_->sp.bos_id();  // -1 when the model has none
  return id >= 0 ? std::optional<int64_t>(id) : std::nullopt;
}

std::optional<int64_t> SentencePieceTokenizer::eos_id() const {
  int id = impl_->sp.eos_id();
  return id >= 0 ? std::optional<int64_t>(id) : std::nullopt;
}

int64_t SentencePieceTokenizer::token_bytes(int64_t id) const {
  QT_CHECK(id >= 0 && id < vocab_size(), "token_bytes: id ", id, " outside [0, ", vocab_size(),
           ")");
  const int i = static_cast<int>(id);
  if (impl_->sp.IsControl(i) || impl_->sp.IsUnknown(i)) return 0;
  if (impl_->sp.IsByte(i)) return 1;  // "<0x41>": byte fallback, one byte of text
  // "▁" (3 bytes in UTF-8) stands for one space. The dummy prefix "▁" of a
  // text's first word counts too, so a text is overcounted by at most one byte.
  const std::string& piece = impl_->sp.IdToPiece(i);
  static const std::string kMarker = "\xE2\x96\x81";
  int64_t n = 0;
  for (size_t p = 0; p < piece.size(); ++n)
    p += piece.compare(p, kMarker.size(), kMarker) == 0 ? kMarker.size() : 1;
  return n;
}

std::optional<int64_t> SentencePieceTokenizer::token_to_id(const std::string& token) const {
  int id = impl_->sp.PieceToId(token);
  // PieceToId answers unk_id for an unknown piece: check the spelling.
  if (id < 0 || id >= impl_->sp.GetPieceSize() || impl_->sp.IdToPiece(id) != token)
    return std::nullopt;
  return id;
}

}  // namespace qtune

#else  // !QTUNE_HAVE_SENTENCEPIECE

namespace qtune {

// Without the library (see CMakeLists.txt: linking Debian's libsentencepiece
// next to LibTorch crashes), a tokenizer.model is a clear error, not a crash.
struct SentencePieceTokenizer::Impl {};

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file) {
  QT_CHECK(std::filesystem::is_regular_file(model_file), "tokenizer: ", model_file.string(),
           " does not exist or is not a file");
  throw Error(detail::concat(
      model_file.string(),
      ": SentencePiece tokenizers are not supported by this build (Debian's libsentencepiece "
      "conflicts with LibTorch's protobuf); use a tokenizer.json (byte-level BPE)"));
}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;
// Unreachable: the constructor always throws.
std::vector<int64_t> SentencePieceTokenizer::encode(const std::string&) const { return {}; }
std::string SentencePieceTokenizer::decode(const std::vector<int64_t>&) const { return {}; }
int64_t SentencePieceTokenizer::vocab_size() const { return 0; }
std::optional<int64_t> SentencePieceTokenizer::bos_id() const { return std::nullopt; }
std::optional<int64_t> SentencePieceTokenizer::eos_id() const { return std::nullopt; }
int64_t SentencePieceTokenizer::token_bytes(int64_t) const { return 0; }
std::optional<int64_t> SentencePieceTokenizer::token_to_id(const std::string&) const {
  return std::nullopt;
}

}  // namespace qtune

#endif  // QTUNE_HAVE_SENTENCEPIECE
