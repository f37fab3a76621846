// The only code that links Debian's libsentencepiece. It is built as a
// loadable module and opened with RTLD_LOCAL | RTLD_DEEPBIND, because that
// library exports the protobuf 3.14 it bundles: linked into a process that
// also loads LibTorch's libprotobuf 3.21, one binds to the other's symbols and
// the process crashes at start-up. A plain C interface keeps the two apart.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <string>
#include <vector>

// Not in the installed headers, but exported by the library.
namespace sentencepiece::logging {
void SetMinLogLevel(int v);
}

namespace {
using Proc = sentencepiece::SentencePieceProcessor;

// The library must never log: under RTLD_DEEPBIND it binds to libstdc++'s own
// std::cerr, while an executable that copy-relocated std::cerr (gtest does)
// initialised only its copy, so writing to it crashes. 3 = FATAL only; every
// error still comes back as a Status.
constexpr int kQuiet = 3;
}  // namespace

extern "C" {

void* qtune_spm_load(const char* path, std::string* err) {
  sentencepiece::logging::SetMinLogLevel(kQuiet);
  auto* p = new Proc();
  auto s = p->Load(path);
  if (!s.ok()) {
    *err = s.ToString();
    delete p;
    return nullptr;
  }
  return p;
}
void qtune_spm_free(void* p) { delete static_cast<Proc*>(p); }
int qtune_spm_encode(void* p, const std::string* text, std::vector<int>* ids, std::string* err) {
  auto s = static_cast<Proc*>(p)->Encode(*text, ids);
  if (!s.ok()) *err = s.ToString();
  return s.ok();
}
int qtune_spm_decode(void* p, const std::vector<int>* ids, std::string* text, std::string* err) {
  auto s = static_cast<Proc*>(p)->Decode(*ids, text);
  if (!s.ok()) *err = s.ToString();
  return s.ok();
}
int qtune_spm_size(void* p) { return static_cast<Proc*>(p)->GetPieceSize(); }
int qtune_spm_bos(void* p) { return static_cast<Proc*>(p)->bos_id(); }
int qtune_spm_eos(void* p) { return static_cast<Proc*>(p)->eos_id(); }
/// 0 normal, 1 control, 2 unknown, 3 byte.
int qtune_spm_kind(void* p, int id) {
  auto* q = static_cast<Proc*>(p);
  return q->IsControl(id) ? 1 : q->IsUnknown(id) ? 2 : q->IsByte(id) ? 3 : 0;
}
void qtune_spm_piece(void* p, int id, std::string* out) {
  *out = static_cast<Proc*>(p)->IdToPiece(id);
}
int qtune_spm_piece_id(void* p, const std::string* piece) {
  return static_cast<Proc*>(p)->PieceToId(*piece);
}
int qtune_spm_train(const std::string* args, std::string* err) {
  sentencepiece::logging::SetMinLogLevel(kQuiet);
  // The trainer parses its own --minloglevel: the last one given wins.
  auto s = sentencepiece::SentencePieceTrainer::Train(*args +
                                                      " --minloglevel=" + std::to_string(kQuiet));
  if (!s.ok()) *err = s.ToString();
  return s.ok();
}

}  // extern "C"
