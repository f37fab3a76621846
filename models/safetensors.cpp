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
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/atomic_file.h"
#include "common/error.h"
#include "models/safetensors_header.h"

namespace qtune {

namespace {

/// The ATen type of each safetensors dtype (models/safetensors_header.cpp lists them).
constexpr std::pair<const char*, at::ScalarType> kScalarTypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},
};

at::ScalarType scalar_type_of(const SafetensorsDtype& d) {
  for (const auto& [name, type] : kScalarTypes)
    if (std::strcmp(name, d.name) == 0) return type;
  QT_ASSERT(false, "safetensors dtype ", d.name, " has no ATen type");
  return at::kFloat;
}

/// The safetensors dtype of an ATen type, or null when safetensors cannot store it.
const SafetensorsDtype* dtype_by_type(at::ScalarType t) {
  for (const auto& [name, type] : kScalarTypes)
    if (type == t)
      for (const auto& d : safetensors_dtypes())
        if (std::strcmp(d.name, name) == 0) return &d;
  return nullptr;
}

bool host_is_little_endian() {
  const uint16_t probe = 1;
  unsigned char first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

void write_le_u64(unsigned char* b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
}

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

/// The address ranges of the live mappings, for release_mapped_pages.
struct LiveMappings {
  std::mutex mutex;
  std::map<uintptr_t, uintptr_t> ranges;  ///< begin -> end
};
LiveMappings& live_mappings() {
  static LiveMappings* m = new LiveMappings;  // outlives tensors freed at exit
  return *m;
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
    LiveMappings& live = live_mappings();
    std::lock_guard<std::mutex> lock(live.mutex);
    live.ranges[reinterpret_cast<uintptr_t>(addr_)] = reinterpret_cast<uintptr_t>(addr_) + size_;
  }
  ~Mapping() {
    {
      LiveMappings& live = live_mappings();
      std::lock_guard<std::mutex> lock(live.mutex);
      live.ranges.erase(reinterpret_cast<uintptr_t>(addr_));
    }
    ::munmap(addr_, size_);
  }
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
  const uint64_t header_len = safetensors_header_length(file, len_bytes, file_size);
  std::string header_text(header_len, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_len));
  QT_CHECK(static_cast<uint64_t>(in.gcount()) == header_len, file,
           ": file ended inside the header");
  const SafetensorsHeader header = parse_safetensors_header(file, header_text, file_size);

  SafetensorsFile out;
  out.metadata = header.metadata;
  for (const auto& e : header.entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(scalar_type_of(*e.dtype)));
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
  const uint64_t header_len = safetensors_header_length(file, mapping->bytes(), file_size);
  const std::string header_text(reinterpret_cast<const char*>(mapping->bytes()) + 8, header_len);
  const SafetensorsHeader header = parse_safetensors_header(file, header_text, file_size);

  SafetensorsFile out;
  out.metadata = header.metadata;
  for (const auto& e : header.entries) {
    const auto options = at::TensorOptions().dtype(scalar_type_of(*e.dtype));
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
      t = at::from_blob(
          data, e.shape, [mapping](void*) {}, options);
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

bool release_mapped_pages(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage() || t.storage().nbytes() == 0) return false;
  const auto begin = reinterpret_cast<uintptr_t>(t.storage().data());
  const uintptr_t end = begin + t.storage().nbytes();
  LiveMappings& live = live_mappings();
  // Held while advising, so that the mapping cannot be unmapped meanwhile.
  std::lock_guard<std::mutex> lock(live.mutex);
  auto it = live.ranges.upper_bound(begin);
  if (it == live.ranges.begin()) return false;
  --it;
  if (begin < it->first || end > it->second) return false;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  return true;
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
    const SafetensorsDtype* d = dtype_by_type(tensor.scalar_type());
    QT_CHECK(d != nullptr, file, ": tensor '", name, "' has dtype ", tensor.scalar_type(),
             ", which safetensors cannot store here (expected one of ", safetensors_dtype_list(),
             ")");
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

  write_file_atomically(path, [&](std::FILE* f) {
    unsigned char len_bytes[8];
    write_le_u64(len_bytes, header_text.size());
    bool ok = std::fwrite(len_bytes, 1, 8, f) == 8;
    ok = ok && std::fwrite(header_text.data(), 1, header_text.size(), f) == header_text.size();
    for (const auto& t : data) {
      const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
      if (bytes > 0) ok = ok && std::fwrite(t.data_ptr(), 1, bytes, f) == bytes;
    }
    return ok;
  });
}

}  // namespace qtune
