// SentencePiece through Debian's libsentencepiece, reached only through the
// qtune_sentencepiece module (sentencepiece_module/spm_module.cpp says why).
#include "models/text/sentencepiece_tokenizer.h"

#include <dlfcn.h>

#include <cstdlib>

#include "common/error.h"

namespace qtune {
namespace {

struct Module {
  void* (*load)(const char*, std::string*) = nullptr;
  void (*free)(void*) = nullptr;
  int (*encode)(void*, const std::string*, std::vector<int>*, std::string*) = nullptr;
  int (*decode)(void*, const std::vector<int>*, std::string*, std::string*) = nullptr;
  int (*size)(void*) = nullptr;
  int (*bos)(void*) = nullptr;
  int (*eos)(void*) = nullptr;
  int (*kind)(void*, int) = nullptr;
  void (*piece)(void*, int, std::string*) = nullptr;
  int (*piece_id)(void*, const std::string*) = nullptr;
  int (*train)(const std::string*, std::string*) = nullptr;
  std::string error;  // why the module is unavailable; "" = loaded
};

template <typename F>
void bind(void* h, const char* name, F& f, std::string& error) {
  f = reinterpret_cast<F>(dlsym(h, name));
  if (!f && error.empty()) error = std::string("symbol ") + name + " missing";
}

const Module& module() {
  static const Module m = [] {
    Module m;
    const char* env = std::getenv("QTUNE_SENTENCEPIECE_MODULE");
#ifdef QTUNE_SENTENCEPIECE_MODULE
    const std::string path = env ? env : QTUNE_SENTENCEPIECE_MODULE;
#else
    const std::string path = env ? env : "";
#endif
    if (path.empty()) {
      m.error = "this build has no SentencePiece module (libsentencepiece-dev was not found)";
      return m;
    }
    // DEEPBIND + LOCAL: the library's bundled protobuf and LibTorch's never see each other.
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
      m.error = std::string("cannot open the SentencePiece module ") + path + ": " + dlerror();
      return m;
    }
    bind(h, "qtune_spm_load", m.load, m.error);
    bind(h, "qtune_spm_free", m.free, m.error);
    bind(h, "qtune_spm_encode", m.encode, m.error);
    bind(h, "qtune_spm_decode", m.decode, m.error);
    bind(h, "qtune_spm_size", m.size, m.error);
    bind(h, "qtune_spm_bos", m.bos, m.error);
    bind(h, "qtune_spm_eos", m.eos, m.error);
    bind(h, "qtune_spm_kind", m.kind, m.error);
    bind(h, "qtune_spm_piece", m.piece, m.error);
    bind(h, "qtune_spm_piece_id", m.piece_id, m.error);
    bind(h, "qtune_spm_train", m.train, m.error);
    return m;
  }();
  return m;
}

const Module& checked_module(const std::string& what) {
  const Module& m = module();
  QT_CHECK(m.error.empty(), what, ": SentencePiece is unavailable: ", m.error);
  return m;
}

}  // namespace

void train_sentencepiece(const std::string& trainer_args) {
  const Module& m = checked_module("SentencePiece training");
  std::string err;
  QT_CHECK(m.train(&trainer_args, &err), "SentencePiece training failed: ", err);
}

struct SentencePieceTokenizer::Impl {
  std::string where;
  void* proc = nullptr;
  const Module* m = nullptr;
  ~Impl() {
    if (proc) m->free(proc);
  }
};

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file)
    : impl_(std::make_unique<Impl>()) {
  impl_->where = model_file.string();
  QT_CHECK(std::filesystem::is_regular_file(model_file), "tokenizer: ", model_file.string(),
           " does not exist or is not a file");
  impl_->m = &checked_module(model_file.string());
  std::string err;
  impl_->proc = impl_->m->load(model_file.string().c_str(), &err);
  QT_CHECK(impl_->proc != nullptr, model_file.string(), ": not a SentencePiece model: ", err);
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int64_t> SentencePieceTokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  std::string err;
  QT_CHECK(impl_->m->encode(impl_->proc, &text, &ids, &err), impl_->where,
           ": encode failed: ", err);
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
  std::string out, err;
  QT_CHECK(impl_->m->decode(impl_->proc, &v, &out, &err), impl_->where, ": decode failed: ", err);
  return out;
}

int64_t SentencePieceTokenizer::vocab_size() const { return impl_->m->size(impl_->proc); }

std::optional<int64_t> SentencePieceTokenizer::bos_id() const {
  int id = impl_->m->bos(impl_->proc);  // -1 when the model has none
  return id >= 0 ? std::optional<int64_t>(id) : std::nullopt;
}

std::optional<int64_t> SentencePieceTokenizer::eos_id() const {
  int id = impl_->m->eos(impl_->proc);
  return id >= 0 ? std::optional<int64_t>(id) : std::nullopt;
}

int64_t SentencePieceTokenizer::token_bytes(int64_t id) const {
  QT_CHECK(id >= 0 && id < vocab_size(), "token_bytes: id ", id, " outside [0, ", vocab_size(),
           ")");
  const int i = static_cast<int>(id);
  const int kind = impl_->m->kind(impl_->proc, i);
  if (kind == 1 || kind == 2) return 0;  // control, unknown
  if (kind == 3) return 1;               // "<0x41>": byte fallback, one byte of text
  // "▁" (3 bytes in UTF-8) stands for one space. The dummy prefix "▁" of a
  // text's first word counts too, so a text is overcounted by at most one byte.
  std::string piece;
  impl_->m->piece(impl_->proc, i, &piece);
  static const std::string kMarker = "\xE2\x96\x81";
  int64_t n = 0;
  for (size_t p = 0; p < piece.size(); ++n)
    p += piece.compare(p, kMarker.size(), kMarker) == 0 ? kMarker.size() : 1;
  return n;
}

std::optional<int64_t> SentencePieceTokenizer::token_to_id(const std::string& token) const {
  int id = impl_->m->piece_id(impl_->proc, &token);
  // PieceToId answers unk_id for an unknown piece: check the spelling.
  std::string piece;
  if (id >= 0 && id < vocab_size()) impl_->m->piece(impl_->proc, id, &piece);
  if (id < 0 || id >= vocab_size() || piece != token) return std::nullopt;
  return id;
}

}  // namespace qtune
