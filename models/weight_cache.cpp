#include "models/weight_cache.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>

#include "common/content_hash.h"
#include "common/error.h"

namespace qtune {

namespace {

constexpr char kMagic[8] = {'Q', 'T', 'W', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxNameLen = 4096;
constexpr uint32_t kMaxDims = 8;

static_assert(sizeof(float) == 4, "the cache stores IEEE float32");

uint64_t fnv1a64(const char* data, size_t n) {
  Fnv1a64 h;
  h.update(data, n);
  return h.value();
}

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

class Reader {
 public:
  Reader(const std::string& buf, size_t end, const std::filesystem::path& path)
      : buf_(buf), end_(end), path_(path) {}

  template <typename T>
  T get(const char* what) {
    T v;
    std::memcpy(&v, need(sizeof(T), what), sizeof(T));
    return v;
  }
  const char* need(size_t n, const char* what) {
    QT_CHECK(n <= end_ - pos_, "weight cache ", path_.string(), ": truncated while reading ", what,
             " at byte ", pos_, " (delete the file to retrain)");
    const char* p = buf_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool done() const { return pos_ == end_; }

 private:
  const std::string& buf_;
  size_t end_;
  size_t pos_ = 0;
  const std::filesystem::path& path_;
};

}  // namespace

void write_weight_cache(const std::filesystem::path& path, const WeightCache& cache) {
  std::string out(kMagic, sizeof(kMagic));
  put<uint32_t>(out, kVersion);
  put<uint32_t>(out, static_cast<uint32_t>(cache.tag.size()));
  out += cache.tag;
  put<uint64_t>(out, cache.tensors.size());
  for (const auto& [name, tensor] : cache.tensors) {
    const at::Tensor t = tensor.detach().to(at::kFloat).contiguous();
    put<uint32_t>(out, static_cast<uint32_t>(name.size()));
    out += name;
    put<uint32_t>(out, static_cast<uint32_t>(t.dim()));
    for (int64_t d : t.sizes()) put<int64_t>(out, d);
    out.append(reinterpret_cast<const char*>(t.data_ptr<float>()), t.numel() * sizeof(float));
  }
  put<uint64_t>(out, fnv1a64(out.data(), out.size()));

  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  QT_CHECK(!ec, "cannot create cache folder ", path.parent_path().string(), ": ", ec.message());
  // Unique per process and call, so ranks that train at the same time never share a temp file.
  static std::atomic<int> counter{0};
  const auto tmp = std::filesystem::path(path.string() + ".tmp." + std::to_string(::getpid()) +
                                         "." + std::to_string(counter++));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    QT_CHECK(f.good(), "cannot write weight cache ", tmp.string());
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    f.flush();
    if (!f.good()) {
      std::filesystem::remove(tmp, ec);
      throw Error("cannot write weight cache " + tmp.string() + " (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error("cannot move weight cache " + tmp.string() + " to " + path.string() + ": " +
                ec.message());
  }
}

WeightCache read_weight_cache(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  QT_CHECK(f.good(), "cannot open weight cache ", path.string());
  const std::string buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string where = "weight cache " + path.string();
  QT_CHECK(buf.size() >= sizeof(kMagic) + 8 && std::memcmp(buf.data(), kMagic, 8) == 0, where,
           ": not a qtune weight cache (bad magic; delete the file to retrain)");
  uint64_t stored_sum = 0;
  std::memcpy(&stored_sum, buf.data() + buf.size() - 8, 8);
  QT_CHECK(stored_sum == fnv1a64(buf.data(), buf.size() - 8), where,
           ": checksum mismatch, the file is corrupt (delete it to retrain)");

  Reader r(buf, buf.size() - 8, path);
  r.need(sizeof(kMagic), "the magic");
  const auto version = r.get<uint32_t>("the version");
  QT_CHECK(version == kVersion, where, ": unsupported version ", version, " (expected ", kVersion,
           ")");
  WeightCache cache;
  const auto tag_len = r.get<uint32_t>("the tag length");
  QT_CHECK(tag_len <= kMaxNameLen, where, ": tag length ", tag_len, " too large");
  cache.tag.assign(r.need(tag_len, "the tag"), tag_len);
  const auto count = r.get<uint64_t>("the tensor count");
  for (uint64_t i = 0; i < count; ++i) {
    const auto name_len = r.get<uint32_t>("a tensor name length");
    QT_CHECK(name_len > 0 && name_len <= kMaxNameLen, where, ": tensor ", i,
             " has a bad name length ", name_len);
    std::string name(r.need(name_len, "a tensor name"), name_len);
    const auto ndim = r.get<uint32_t>("a tensor rank");
    QT_CHECK(ndim <= kMaxDims, where, ": tensor '", name, "' has rank ", ndim, " (max ", kMaxDims,
             ")");
    std::vector<int64_t> dims(ndim);
    uint64_t numel = 1;
    for (auto& d : dims) {
      d = r.get<int64_t>("a tensor dimension");
      QT_CHECK(d >= 0 && d < (int64_t{1} << 32), where, ": tensor '", name, "' has dimension ", d);
      numel *= static_cast<uint64_t>(d);
      QT_CHECK(numel <= (uint64_t{1} << 32), where, ": tensor '", name, "' is too large");
    }
    at::Tensor t = at::empty(dims, at::kFloat);
    const void* bytes = r.need(numel * sizeof(float), "tensor data");
    // An empty tensor has no storage (a null data pointer): nothing to copy.
    if (numel > 0) std::memcpy(t.data_ptr<float>(), bytes, numel * sizeof(float));
    QT_CHECK(cache.tensors.emplace(std::move(name), std::move(t)).second, where,
             ": duplicate tensor name");
  }
  QT_CHECK(r.done(), where, ": unexpected bytes after the last tensor");
  return cache;
}

}  // namespace qtune
