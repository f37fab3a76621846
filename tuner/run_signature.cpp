#include "tuner/run_signature.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "common/error.h"
#include "models/builtin.h"

namespace qtune {

void Fnv1a64::update(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = h_;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  h_ = h;
}

std::string Fnv1a64::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

std::vector<std::filesystem::path> model_weight_files(const std::string& spec,
                                                      const std::filesystem::path& cache_dir) {
  std::vector<std::filesystem::path> files;
  if (const auto dir = model_files_dir(spec, cache_dir); !dir.empty()) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const auto& p = entry.path();
      if (entry.is_regular_file() &&
          (p.extension() == ".safetensors" || p.filename() == "config.json"))
        files.push_back(p);
    }
  } else {
    for (const BuiltinInfo& info : list_builtin_models(cache_dir))
      if (info.spec == spec) files.push_back(info.cache_file);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string files_hash(const std::vector<std::filesystem::path>& files) {
  Fnv1a64 h;
  std::vector<char> buf(1 << 20);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    QT_CHECK(in.good(), f.string(), ": cannot read the model's weights to hash them");
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      h.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    QT_CHECK(in.eof(), f.string(), ": read error while hashing the model's weights");
  }
  return h.hex();
}

std::string tensors_hash(const std::vector<at::Tensor>& tensors) {
  Fnv1a64 h;
  for (const at::Tensor& t : tensors) {
    if (!t.defined()) {
      h.update("undefined", 9);
      continue;
    }
    const std::string header = std::string(c10::toString(t.scalar_type())) + "[";
    h.update(header.data(), header.size());
    for (const int64_t d : t.sizes()) h.update(&d, sizeof d);
    const at::Tensor c = t.contiguous();
    h.update(c.data_ptr(), c.numel() * c.element_size());
  }
  return h.hex();
}

std::string signature_change(const Json& stored, const Json& current) {
  std::string out;
  const auto check = [&](const char* key, const char* what) {
    const std::string was = stored.is_object() ? stored.value(key, std::string()) : "";
    const std::string now = current.is_object() ? current.value(key, std::string()) : "";
    if (was.empty() || now.empty() || was == now) return;
    out += std::string(out.empty() ? "" : "; ") + what + " changed (content hash " + now +
           " now, " + was + " when the run started)";
  };
  check("model_hash", "the model's weights");
  check("data_hash", "the data");
  return out;
}

}  // namespace qtune
