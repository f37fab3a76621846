// Which files hold a model's weights, so that their content can be hashed
// (a run's signature, a trained built-in's record).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace qtune {

/// The weight files `spec` loads from: a Hugging Face folder's *.safetensors
/// and config.json (built-in language models included), a built-in
/// classifier's cached weight file, a TorchScript file; sorted by name.
std::vector<std::filesystem::path> model_weight_files(const std::string& spec,
                                                      const std::filesystem::path& cache_dir);

}  // namespace qtune
