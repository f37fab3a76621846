// GPT-2's byte-to-unicode table (openai/gpt-2 encoder.py bytes_to_unicode):
// printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100...
#include <array>

#include "common/error.h"
#include "models/text/bpe_tokenizer.h"

namespace qtune {
namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

struct Tables {
  std::array<std::string, 256> byte_to_char;
  std::array<int, 0x144> char_to_byte;  // every code point of the table is < U+0144
  Tables() {
    char_to_byte.fill(-1);
    std::array<uint32_t, 256> cp{};
    std::array<bool, 256> printable{};
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) cp[b] = printable[b] ? b : next++;
    for (int b = 0; b < 256; ++b) {
      append_utf8(byte_to_char[b], cp[b]);
      char_to_byte[cp[b]] = b;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::string byte_level_encode(const std::string& bytes) {
  const auto& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += t.byte_to_char[c];
  return out;
}

std::string byte_level_decode(const std::string& chars) {
  const auto& t = tables();
  std::string out;
  out.reserve(chars.size());
  size_t i = 0;
  while (i < chars.size()) {
    auto c0 = static_cast<unsigned char>(chars[i]);
    uint32_t cp = 0;
    size_t len = 0;
    if (c0 < 0x80) {
      cp = c0, len = 1;
    } else if ((c0 & 0xE0) == 0xC0 && i + 1 < chars.size()) {
      cp = ((c0 & 0x1F) << 6) | (static_cast<unsigned char>(chars[i + 1]) & 0x3F), len = 2;
    } else {
      cp = 0xFFFFFFFF, len = 1;
    }
    QT_CHECK(cp < t.char_to_byte.size() && t.char_to_byte[cp] >= 0,
             "byte-level text: character at byte ", i, " of '", chars,
             "' is not in GPT-2's byte-to-unicode table");
    out += static_cast<char>(t.char_to_byte[cp]);
    i += len;
  }
  return out;
}

}  // namespace qtune
