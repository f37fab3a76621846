// The safetensors header, parsed without touching tensor data (no ATen, so
// the fuzz targets can link it): the 8-byte little-endian length, the JSON
// header and every check of it that models/safetensors.cpp relies on before
// it reads or maps a byte of data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qtune {

/// One dtype safetensors stores, by its header name ("F32", "BF16", ...).
struct SafetensorsDtype {
  const char* name;
  int64_t itemsize;  ///< bytes per element
};

/// The dtypes read: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
const std::vector<SafetensorsDtype>& safetensors_dtypes();
/// "F64, F32, ..." for error messages.
std::string safetensors_dtype_list();

struct SafetensorsEntry {
  std::string name;
  const SafetensorsDtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  ///< byte offsets relative to the data section
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  ///< file offset of the data section
};

/// A header larger than this is refused before it is read: the official
/// reader uses the same limit, and it keeps a corrupt length field from
/// allocating gigabytes.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100u * 1000u * 1000u;

/// The header length from the first 8 bytes, checked against `file_size`
/// (>= 8) and the limit; errors name `file`.
uint64_t safetensors_header_length(const std::string& file, const unsigned char* len_bytes,
                                   uint64_t file_size);

/// Parses and validates `header_text` (the bytes after the length field) of a
/// file of `file_size` bytes: well-formed JSON object, known dtypes, shapes of
/// non-negative integers, byte counts = numel * itemsize, offsets inside the
/// data section, no two tensors overlapping. Any violation is a qtune::Error
/// naming `file` and the tensor.
SafetensorsHeader parse_safetensors_header(const std::string& file, const std::string& header_text,
                                           uint64_t file_size);

}  // namespace qtune
