#include "common/content_hash.h"

#include <cstdio>
#include <fstream>

#include "common/error.h"

namespace qtune {

void Fnv1a64::update(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = h_;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;  // the FNV 64-bit prime
  }
  h_ = h;
}

std::string Fnv1a64::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

std::string files_hash(const std::vector<std::filesystem::path>& files) {
  Fnv1a64 h;
  std::vector<char> buf(1 << 20);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    QT_CHECK(in.good(), f.string(), ": cannot read the file to hash it");
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      h.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    QT_CHECK(in.eof(), f.string(), ": read error while hashing the file");
  }
  return h.hex();
}

}  // namespace qtune
