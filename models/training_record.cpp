#include "models/training_record.h"

#include <ATen/Version.h>
#include <dlfcn.h>

#include <fstream>
#include <sstream>

#include "backends/onednn/onednn_isa.h"
#include "common/atomic_file.h"
#include "common/content_hash.h"
#include "common/error.h"

namespace qtune {

namespace {

// Looked up at run time: OpenBLAS is LibTorch's BLAS here, but another BLAS
// may be installed through Debian's alternatives.
std::string openblas_core() {
  using CoreFn = char* (*)();
  const auto corename = reinterpret_cast<CoreFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return corename ? corename() : "unknown";
}

// LibTorch 1.13 exports no accessor for its dispatch level; show_config()
// prints it as "CPU capability usage: AVX2".
std::string aten_cpu_capability() {
  const std::string config = at::show_config();
  const std::string key = "CPU capability usage: ";
  const size_t at = config.find(key);
  if (at == std::string::npos) return "unknown";
  const size_t begin = at + key.size();
  return config.substr(begin, config.find('\n', begin) - begin);
}

}  // namespace

std::filesystem::path training_record_path(const std::filesystem::path& location) {
  std::error_code ec;
  if (std::filesystem::is_directory(location, ec)) return location / "training.json";
  return location.string() + ".training.json";
}

Json training_environment() {
  return {{"onednn_isa", onednn::effective_isa_name()},
          {"openblas_core", openblas_core()},
          {"aten_cpu_capability", aten_cpu_capability()}};
}

void write_training_record(const std::filesystem::path& record, const std::string& spec,
                           const std::vector<std::filesystem::path>& weight_files) {
  const Json j = {{"spec", spec},
                  {"weights_hash", files_hash(weight_files)},
                  {"trained_with", training_environment()}};
  const std::string text = j.dump(2) + "\n";
  write_file_atomically(record, [&](std::FILE* f) {
    return std::fwrite(text.data(), 1, text.size(), f) == text.size();
  });
}

std::optional<Json> read_training_record(const std::filesystem::path& record) {
  std::ifstream in(record);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  try {
    return Json::parse(text.str());
  } catch (const Json::exception& e) {
    throw Error(record.string() + ": not a training record (" + e.what() + ")");
  }
}

}  // namespace qtune
