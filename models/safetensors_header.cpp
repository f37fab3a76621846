#include "models/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace qtune {

namespace {

uint64_t read_le_u64(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

const SafetensorsDtype* dtype_by_name(const std::string& name) {
  for (const auto& d : safetensors_dtypes())
    if (name == d.name) return &d;
  return nullptr;
}

// Validates one header entry; `data_size` is the byte count after the header.
SafetensorsEntry parse_entry(const std::string& file, const std::string& name,
                             const nlohmann::json& v, uint64_t data_size) {
  const std::string where = file + ": tensor '" + name + "'";
  QT_CHECK(v.is_object(), where, ": expected an object with dtype, shape, data_offsets, got ",
           v.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    QT_CHECK(v.contains(key), where, ": missing '", key, "'");

  SafetensorsEntry e;
  e.name = name;
  const auto& dt = v["dtype"];
  QT_CHECK(dt.is_string(), where, ": dtype must be a string, got ", dt.dump());
  e.dtype = dtype_by_name(dt.get<std::string>());
  QT_CHECK(e.dtype != nullptr, where, ": unknown dtype '", dt.get<std::string>(),
           "' (expected one of ", safetensors_dtype_list(), ")");

  const auto& shape = v["shape"];
  QT_CHECK(shape.is_array(), where, ": shape must be a list of non-negative integers, got ",
           shape.dump());
  // numel is bounded by data_size (it must match the byte count), so stopping
  // at that bound also keeps the product from overflowing.
  uint64_t numel = 1;
  bool too_large = false;
  for (const auto& d : shape) {
    QT_CHECK(d.is_number_unsigned() &&
                 d.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
             where, ": shape must be a list of non-negative integers, got ", shape.dump());
    const uint64_t dim = d.get<uint64_t>();
    e.shape.push_back(static_cast<int64_t>(dim));
    if (dim == 0) {
      numel = 0;
      too_large = false;
    } else if (numel != 0 && !too_large) {
      if (numel > data_size / dim) too_large = true;
      numel *= too_large ? 1 : dim;
    }
  }
  QT_CHECK(!too_large, where, ": shape ", shape.dump(), " needs more bytes than the data section (",
           data_size, " bytes)");

  const auto& off = v["data_offsets"];
  QT_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
               off[1].is_number_unsigned(),
           where, ": data_offsets must be [begin, end] with non-negative integers, got ",
           off.dump());
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  QT_CHECK(e.begin <= e.end, where, ": data_offsets ", off.dump(), " have begin > end");
  QT_CHECK(e.end <= data_size, where, ": data_offsets ", off.dump(), " exceed the data section (",
           data_size, " bytes)");
  // numel <= data_size, but numel * itemsize can still wrap around 2^64.
  QT_CHECK(numel <= std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(e.dtype->itemsize),
           where, ": shape ", shape.dump(), " of ", e.dtype->name,
           " needs more bytes than the data section (", data_size, " bytes)");
  const uint64_t expected = numel * static_cast<uint64_t>(e.dtype->itemsize);
  QT_CHECK(e.end - e.begin == expected, where, ": data_offsets ", off.dump(), " span ",
           e.end - e.begin, " bytes, but shape ", shape.dump(), " of ", e.dtype->name, " needs ",
           expected);
  return e;
}

}  // namespace

const std::vector<SafetensorsDtype>& safetensors_dtypes() {
  // F64 is read (Hugging Face checkpoints carry it) though qtune never writes it.
  static const std::vector<SafetensorsDtype> kDtypes{
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1},
  };
  return kDtypes;
}

std::string safetensors_dtype_list() {
  std::string s;
  for (const auto& d : safetensors_dtypes()) s += std::string(s.empty() ? "" : ", ") + d.name;
  return s;
}

uint64_t safetensors_header_length(const std::string& file, const unsigned char* len_bytes,
                                   uint64_t file_size) {
  QT_ASSERT(file_size >= 8);
  const uint64_t header_len = read_le_u64(len_bytes);
  QT_CHECK(header_len <= file_size - 8, file, ": header length ", header_len, " exceeds the file (",
           file_size - 8, " bytes after the length field)");
  QT_CHECK(header_len <= kSafetensorsMaxHeaderBytes, file, ": header length ", header_len,
           " exceeds the limit of ", kSafetensorsMaxHeaderBytes, " bytes");
  QT_CHECK(header_len >= 2, file, ": header of ", header_len, " bytes cannot be a JSON object");
  return header_len;
}

SafetensorsHeader parse_safetensors_header(const std::string& file, const std::string& header_text,
                                           uint64_t file_size) {
  QT_ASSERT(file_size >= 8 + header_text.size());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file + ": header is not valid JSON (" + e.what() + ")");
  }
  QT_CHECK(header.is_object(), file, ": header must be a JSON object, got ", header.type_name());

  SafetensorsHeader out;
  out.data_start = 8 + header_text.size();
  const uint64_t data_size = file_size - out.data_start;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      QT_CHECK(value.is_object(), file, ": __metadata__ must be an object of strings, got ",
               value.type_name());
      for (const auto& [k, v] : value.items()) {
        QT_CHECK(v.is_string(), file, ": __metadata__['", k, "'] must be a string, got ", v.dump());
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    out.entries.push_back(parse_entry(file, name, value, data_size));
  }

  // Two tensors sharing bytes would alias after loading; empty ones occupy nothing.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : out.entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(
      by_offset.begin(), by_offset.end(),
      [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const SafetensorsEntry& a = *by_offset[i - 1];
    const SafetensorsEntry& b = *by_offset[i];
    QT_CHECK(b.begin >= a.end, file, ": tensors '", a.name, "' [", a.begin, ", ", a.end, ") and '",
             b.name, "' [", b.begin, ", ", b.end, ") overlap");
  }
  return out;
}

}  // namespace qtune
