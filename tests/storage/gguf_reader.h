// A GGUF reader for the tests only, written from the format's published
// description (ggml's docs/gguf.md and ggml-common.h), not from qtune's writer:
// it parses the header, every metadata entry, the tensor infos, checks offsets
// and alignment, and decodes F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors to floats with
// ggml's dequantization formulas. Any inconsistency throws std::runtime_error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qtune::testing {

struct GgufKv {
  uint32_t type = 0;  ///< gguf value type (4 = u32, 6 = f32, 7 = bool, 8 = string, 9 = array, ...)
  uint32_t elem_type = 0;            ///< for arrays
  int64_t i = 0;                     ///< integer or bool scalar
  double f = 0;                      ///< float scalar
  std::string s;                     ///< string scalar
  std::vector<std::string> strings;  ///< string array
  std::vector<int64_t> ints;         ///< integer array
  std::vector<double> floats;        ///< float array
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  ///< ne[0] innermost
  uint32_t type = 0;        ///< ggml type: 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, 30 BF16
  uint64_t offset = 0;      ///< relative to the data section
  int64_t numel() const;
};

struct GgufFile {
  uint32_t version = 0;
  uint64_t alignment = 32;
  std::vector<std::string> keys;  ///< in file order
  std::map<std::string, GgufKv> kv;
  std::vector<GgufTensorInfo> tensors;
  uint64_t data_start = 0;
  std::vector<uint8_t> bytes;

  const GgufKv& at(const std::string& key) const;
  const GgufTensorInfo* find(const std::string& name) const;
  /// The tensor decoded to floats, row-major [ne[n-1], ..., ne[0]].
  std::vector<float> decode(const GgufTensorInfo& t) const;
};

GgufFile read_gguf(const std::filesystem::path& file);
GgufFile parse_gguf(std::vector<uint8_t> bytes);

/// IEEE half -> float from the bit fields (sign, 5-bit exponent, 10-bit mantissa).
float half_to_float(uint16_t h);

}  // namespace qtune::testing
