// RegexSplitter: the pre-tokenizer's Split on PCRE2 (std::regex has no \p{L}
// and no lookahead-with-Unicode classes, and is far too slow for 4 MB texts).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/error.h"
#include "models/text/bpe_tokenizer.h"

namespace qtune {

// The GPT-2 pattern as OpenAI's encoder.py and HF's ByteLevel(use_regex) use it.
const char* const kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama-3's tokenizer.json Split pattern (tiktoken cl100k style, digits in threes).
const char* const kLlama3SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2's: as Llama-3's but single digits.
const char* const kQwen2SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct RegexSplitter::Impl {
  std::string pattern;
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

RegexSplitter::RegexSplitter(const std::string& pattern) : impl_(std::make_unique<Impl>()) {
  impl_->pattern = pattern;
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  // MATCH_INVALID_UTF: arbitrary bytes are legal input for byte-level BPE;
  // invalid sequences simply never match and end up in the unmatched stretches.
  impl_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    throw Error(detail::concat("split pattern '", pattern, "': ", reinterpret_cast<char*>(msg),
                               " at offset ", err_offset));
  }
  // JIT is an optimisation only: if it is unavailable, interpretation still works.
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

const std::string& RegexSplitter::pattern() const { return impl_->pattern; }

std::vector<std::string> RegexSplitter::split(const std::string& text) const {
  std::vector<std::string> pieces;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  QT_ASSERT(md != nullptr, "pcre2_match_data_create_from_pattern");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t pos = 0;   // where the next search starts
  size_t last = 0;  // end of the text already emitted
  while (pos <= n) {
    int rc = pcre2_match(impl_->code, subject, n, pos, 0, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof(msg));
      throw Error(detail::concat("split pattern '", impl_->pattern,
                                 "': matching failed: ", reinterpret_cast<char*>(msg)));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    if (end == start) {
      // An empty match: step over one character (a lead byte and its
      // continuation bytes) so the search always advances.
      pos = start + 1;
      while (pos < n && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (start > last) pieces.emplace_back(text, last, start - last);
    pieces.emplace_back(text, start, end - start);
    last = pos = end;
  }
  pcre2_match_data_free(md);
  if (last < n) pieces.emplace_back(text, last, n - last);
  return pieces;
}

}  // namespace qtune
