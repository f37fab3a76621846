#include "models/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.h"

namespace qtune {

namespace {

// A header larger than this is refused before it is read: the official reader
// uses the same limit, and it keeps a corrupt length field from allocating gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  int64_t itemsize;
};

// F64 is read (Hugging Face checkpoints carry it) though qtune never writes it.
constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8},    {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8},  {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},     {"I8", at::kChar, 1},   {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (t == d.type) return &d;
  return nullptr;
}

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += std::string(s.empty() ? "" : ", ") + d.name;
  return s;
}

bool host_is_little_endian() {
  const uint16_t probe = 1;
  unsigned char first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

uint64_t read_le_u64(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

void write_le_u64(unsigned char* b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// Validates one header entry; `data_size` is the byte count after the header.
Entry parse_entry(const std::string& file, const std::string& name, const nlohmann::json& v,
                  uint64_t data_size) {
  const std::string where = file + ": tensor '" + name + "'";
  QT_CHECK(v.is_object(), where, ": expected an object with dtype, shape, data_offsets, got ",
           v.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    QT_CHECK(v.contains(key), where, ": missing '", key, "'");

  Entry e;
  e.name = name;
  const auto& dt = v["dtype"];
  QT_CHECK(dt.is_string(), where, ": dtype must be a string, got ", dt.dump());
  e.dtype = dtype_by_name(dt.get<std::string>());
  QT_CHECK(e.dtype != nullptr, where, ": unknown dtype '", dt.get<std::string>(),
           "' (expected one of ", known_dtypes(), ")");

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
  const uint64_t expected = numel * static_cast<uint64_t>(e.dtype->itemsize);
  QT_CHECK(e.end - e.begin == expected, where, ": data_offsets ", off.dump(), " span ",
           e.end - e.begin, " bytes, but shape ", shape.dump(), " of ", e.dtype->name, " needs ",
           expected);
  return e;
}

}  // namespace

namespace {

struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  ///< file offset of the data section
};

void check_file(const std::string& file) {
  QT_CHECK(host_is_little_endian(), file, ": safetensors needs a little-endian host");
}

uint64_t file_size_of(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::error_code ec;
  QT_CHECK(std::filesystem::is_regular_file(path, ec), file, ": no such file");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  QT_CHECK(!ec, file, ": cannot stat: ", ec.message());
  QT_CHECK(file_size >= 8, file, ": not a safetensors file (", file_size,
           " bytes, the 8-byte header length is missing)");
  return file_size;
}

/// The header length from the first 8 bytes, checked against the file size.
uint64_t header_length(const std::string& file, const unsigned char* len_bytes,
                       uint64_t file_size) {
  const uint64_t header_len = read_le_u64(len_bytes);
  QT_CHECK(header_len <= file_size - 8, file, ": header length ", header_len, " exceeds the file (",
           file_size - 8, " bytes after the length field)");
  QT_CHECK(header_len <= kMaxHeaderBytes, file, ": header length ", header_len,
           " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  QT_CHECK(header_len >= 2, file, ": header of ", header_len, " bytes cannot be a JSON object");
  return header_len;
}

Header parse_header(const std::string& file, const std::string& header_text, uint64_t file_size) {
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file + ": header is not valid JSON (" + e.what() + ")");
  }
  QT_CHECK(header.is_object(), file, ": header must be a JSON object, got ", header.type_name());

  Header out;
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
  std::vector<const Entry*> by_offset;
  for (const auto& e : out.entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& a = *by_offset[i - 1];
    const Entry& b = *by_offset[i];
    QT_CHECK(b.begin >= a.end, file, ": tensors '", a.name, "' [", a.begin, ", ", a.end, ") and '",
             b.name, "' [", b.begin, ", ", b.end, ") overlap");
  }
  return out;
}

/// A private read/write mapping of a whole file, unmapped with its last user.
class Mapping {
 public:
  Mapping(const std::string& file, uint64_t size) : size_(size) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    QT_CHECK(fd >= 0, file, ": cannot open: ", std::strerror(errno));
    // MAP_PRIVATE: a caller writing into a tensor gets its own copy of the page.
    addr_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const int saved_errno = errno;
    ::close(fd);
    QT_CHECK(addr_ != MAP_FAILED, file, ": cannot map: ", std::strerror(saved_errno));
  }
  ~Mapping() { ::munmap(addr_, size_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const unsigned char* bytes() const { return static_cast<const unsigned char*>(addr_); }
  unsigned char* bytes() { return static_cast<unsigned char*>(addr_); }

 private:
  void* addr_ = nullptr;
  uint64_t size_;
};

}  // namespace

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  check_file(file);
  const uint64_t file_size = file_size_of(path);
  std::ifstream in(path, std::ios::binary);
  QT_CHECK(in, file, ": cannot open: ", std::strerror(errno));

  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  QT_CHECK(in.gcount() == 8, file, ": cannot read the header length");
  const uint64_t header_len = header_length(file, len_bytes, file_size);
  std::string header_text(header_len, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_len));
  QT_CHECK(static_cast<uint64_t>(in.gcount()) == header_len, file,
           ": file ended inside the header");
  const Header header = parse_header(file, header_text, file_size);

  SafetensorsFile out;
  out.metadata = header.metadata;
  for (const auto& e : header.entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype->type));
    const uint64_t bytes = e.end - e.begin;
    if (bytes > 0) {
      in.seekg(static_cast<std::streamoff>(header.data_start + e.begin));
      in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
      // The size was checked, but the file may shrink while we read it.
      QT_CHECK(in && static_cast<uint64_t>(in.gcount()) == bytes, file, ": tensor '", e.name,
               "': file ended inside its data");
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

SafetensorsFile map_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  check_file(file);
  const uint64_t file_size = file_size_of(path);
  auto mapping = std::make_shared<Mapping>(file, file_size);
  const uint64_t header_len = header_length(file, mapping->bytes(), file_size);
  const std::string header_text(reinterpret_cast<const char*>(mapping->bytes()) + 8, header_len);
  const Header header = parse_header(file, header_text, file_size);

  SafetensorsFile out;
  out.metadata = header.metadata;
  for (const auto& e : header.entries) {
    const auto options = at::TensorOptions().dtype(e.dtype->type);
    const uint64_t bytes = e.end - e.begin;
    unsigned char* data = mapping->bytes() + header.data_start + e.begin;
    at::Tensor t;
    if (bytes == 0) {
      t = at::empty(e.shape, options);
    } else if (reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(e.dtype->itemsize) != 0) {
      t = at::empty(e.shape, options);
      std::memcpy(t.data_ptr(), data, bytes);
    } else {
      // Each tensor holds a reference: the mapping lives as long as any of them.
      t = at::from_blob(data, e.shape, [mapping](void*) {}, options);
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string file = path.string();
  QT_CHECK(host_is_little_endian(), file, ": safetensors needs a little-endian host");

  // std::map iterates in name order, which fixes the data layout: the same
  // tensors always give the same bytes.
  std::vector<at::Tensor> data;
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    QT_CHECK(name != "__metadata__", file, ": '__metadata__' is reserved, not a tensor name");
    QT_CHECK(tensor.defined(), file, ": tensor '", name, "' is undefined");
    const DtypeInfo* d = dtype_by_type(tensor.scalar_type());
    QT_CHECK(d != nullptr, file, ": tensor '", name, "' has dtype ", tensor.scalar_type(),
             ", which safetensors cannot store here (expected one of ", known_dtypes(), ")");
    at::Tensor t = tensor.to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(d->itemsize);
    header[name] = {
        {"dtype", d->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(file + ": tensor names and metadata must be valid UTF-8 (" + e.what() + ")");
  }
  // Padding to 8 bytes keeps the data section aligned for readers that mmap it.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  QT_CHECK(f != nullptr, file, ": cannot create ", tmp.string(), ": ", std::strerror(errno));
  bool ok = true;
  unsigned char len_bytes[8];
  write_le_u64(len_bytes, header_text.size());
  ok = ok && std::fwrite(len_bytes, 1, 8, f) == 8;
  ok = ok && std::fwrite(header_text.data(), 1, header_text.size(), f) == header_text.size();
  for (const auto& t : data) {
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (bytes > 0) ok = ok && std::fwrite(t.data_ptr(), 1, bytes, f) == bytes;
  }
  ok = ok && std::fflush(f) == 0;
  // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
  ok = ok && ::fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::filesystem::remove(tmp);
    throw Error(file + ": write failed: " + std::strerror(saved_errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw Error(file + ": cannot rename " + tmp.string() + " into place: " + ec.message());
  }
}

}  // namespace qtune
