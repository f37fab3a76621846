#include "storage/formats/gguf_writer.h"

#include <cstdio>
#include <type_traits>

#include "common/atomic_file.h"
#include "common/error.h"

namespace qtune {

namespace {

void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}

// GGUF is little-endian; so is every CPU qtune builds for (x86-64, aarch64).
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  static_assert(std::is_arithmetic_v<T>);
  put_bytes(out, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

uint64_t padded(uint64_t n) { return (n + kGgufAlignment - 1) / kGgufAlignment * kGgufAlignment; }

}  // namespace

int64_t ggml_block_size(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 1;
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ8_0:
      return 32;
  }
  QT_ASSERT(false, "unknown ggml type ", static_cast<uint32_t>(t));
  return 0;
}

int64_t ggml_type_size(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return 4;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 2;
    case GgmlType::kQ4_0:
      return 2 + 16;
    case GgmlType::kQ4_1:
      return 2 + 2 + 16;
    case GgmlType::kQ8_0:
      return 2 + 32;
  }
  QT_ASSERT(false, "unknown ggml type ", static_cast<uint32_t>(t));
  return 0;
}

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kBF16:
      return "BF16";
    case GgmlType::kQ4_0:
      return "Q4_0";
    case GgmlType::kQ4_1:
      return "Q4_1";
    case GgmlType::kQ8_0:
      return "Q8_0";
  }
  return "?";
}

void GgufWriter::begin_kv(const std::string& key, GgufValueType type) {
  for (const std::string& k : keys_)
    QT_CHECK(k != key, "gguf: metadata key '", key, "' added twice");
  keys_.push_back(key);
  put_string(kv_, key);
  put<uint32_t>(kv_, static_cast<uint32_t>(type));
  ++kv_count_;
}

void GgufWriter::add_string(const std::string& key, const std::string& value) {
  begin_kv(key, GgufValueType::kString);
  put_string(kv_, value);
}

void GgufWriter::add_uint32(const std::string& key, uint32_t value) {
  begin_kv(key, GgufValueType::kUint32);
  put(kv_, value);
}

void GgufWriter::add_int32(const std::string& key, int32_t value) {
  begin_kv(key, GgufValueType::kInt32);
  put(kv_, value);
}

void GgufWriter::add_float32(const std::string& key, float value) {
  begin_kv(key, GgufValueType::kFloat32);
  put(kv_, value);
}

void GgufWriter::add_bool(const std::string& key, bool value) {
  begin_kv(key, GgufValueType::kBool);
  put<uint8_t>(kv_, value ? 1 : 0);
}

void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& values) {
  begin_kv(key, GgufValueType::kArray);
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufValueType::kString));
  put<uint64_t>(kv_, values.size());
  for (const std::string& v : values) put_string(kv_, v);
}

void GgufWriter::add_int32_array(const std::string& key, const std::vector<int32_t>& values) {
  begin_kv(key, GgufValueType::kArray);
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufValueType::kInt32));
  put<uint64_t>(kv_, values.size());
  put_bytes(kv_, values.data(), values.size() * sizeof(int32_t));
}

void GgufWriter::add_float32_array(const std::string& key, const std::vector<float>& values) {
  begin_kv(key, GgufValueType::kArray);
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufValueType::kFloat32));
  put<uint64_t>(kv_, values.size());
  put_bytes(kv_, values.data(), values.size() * sizeof(float));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type,
                            std::vector<uint8_t> data) {
  for (const Tensor& t : tensors_)
    QT_CHECK(t.name != name, "gguf: tensor '", name, "' added twice");
  QT_CHECK(!ne.empty() && ne.size() <= 4, "gguf: tensor '", name, "' needs 1 to 4 dims, got ",
           ne.size());
  int64_t n = 1;
  for (int64_t d : ne) {
    QT_CHECK(d > 0, "gguf: tensor '", name, "' has a dim of ", d);
    n *= d;
  }
  const int64_t block = ggml_block_size(type);
  QT_CHECK(ne[0] % block == 0, "gguf: tensor '", name, "' of type ", ggml_type_name(type),
           " needs its row length (ne[0] = ", ne[0], ") to be a multiple of ", block);
  const uint64_t expected = static_cast<uint64_t>(n / block * ggml_type_size(type));
  QT_CHECK(data.size() == expected, "gguf: tensor '", name, "' of type ", ggml_type_name(type),
           ": expected ", expected, " bytes of data, got ", data.size());
  tensors_.push_back({name, std::move(ne), type, std::move(data)});
}

std::vector<uint8_t> GgufWriter::header() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747u);  // "GGUF" read as a little-endian u32
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_count_);
  put_bytes(out, kv_.data(), kv_.size());
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(out, static_cast<uint64_t>(d));
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offset = padded(offset + t.data.size());
  }
  out.resize(padded(out.size()), 0);
  return out;
}

std::vector<uint8_t> GgufWriter::bytes() const {
  std::vector<uint8_t> out = header();
  for (const Tensor& t : tensors_) {
    put_bytes(out, t.data.data(), t.data.size());
    out.resize(padded(out.size()), 0);
  }
  return out;
}

void GgufWriter::write(const std::filesystem::path& path) const {
  const std::vector<uint8_t> head = header();
  // Streamed tensor by tensor: a copy of the whole file would double the memory of a big model.
  write_file_atomically(path, [&](std::FILE* f) {
    bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
    static const uint8_t zeros[kGgufAlignment] = {};
    for (const Tensor& t : tensors_) {
      ok = ok && std::fwrite(t.data.data(), 1, t.data.size(), f) == t.data.size();
      const size_t pad = padded(t.data.size()) - t.data.size();
      ok = ok && std::fwrite(zeros, 1, pad, f) == pad;
    }
    return ok;
  });
}

}  // namespace qtune
