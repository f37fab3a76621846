// A .npy file's bytes built by hand, as numpy.save writes them: the magic,
// the format version, the header length (2 little-endian bytes for 1.0, 4
// for 2.0 and 3.0), numpy's dict header ended by a newline, then the data.
#pragma once

#include <string>

namespace qtune::testing {

inline std::string npy_bytes(const std::string& header, const std::string& data, int major = 1) {
  const std::string h = header + "\n";
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const int len_bytes = major == 1 ? 2 : 4;
  for (int k = 0; k < len_bytes; ++k) out += static_cast<char>((h.size() >> (8 * k)) & 0xff);
  return out + h + data;
}

}  // namespace qtune::testing
