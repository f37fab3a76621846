// What a run measured besides its config: the model's weights and the task
// data, as content hashes. `--resume` refuses a run whose model or data
// changed since (its finished trials measured something else).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/json.h"

namespace qtune {

/// 64-bit FNV-1a over a stream of bytes; hex() equals fnv1a_hex (tuner/trial.h)
/// of the concatenated bytes.
class Fnv1a64 {
 public:
  void update(const void* data, size_t n);
  std::string hex() const;  ///< 16 lower-case hex digits

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

/// The weight files `spec` loads from: a Hugging Face folder's *.safetensors
/// and config.json (built-in language models included), a built-in
/// classifier's cached weight file; sorted by name.
std::vector<std::filesystem::path> model_weight_files(const std::string& spec,
                                                      const std::filesystem::path& cache_dir);

/// The files' bytes in order. A file that cannot be read -> qtune::Error naming it.
std::string files_hash(const std::vector<std::filesystem::path>& files);

/// Each tensor's dtype, shape and (contiguous) bytes, in order.
std::string tensors_hash(const std::vector<at::Tensor>& tensors);

/// One line saying what differs between a stored signature and the current
/// one ({"model_hash","data_hash"}), e.g. "the model's weights changed (content
/// hash 1234... now, 5678... when the run started)"; empty when nothing
/// differs or either side does not know a hash.
std::string signature_change(const Json& stored, const Json& current);

}  // namespace qtune
