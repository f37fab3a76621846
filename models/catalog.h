// The one table of model families. Each family says which specs it takes
// and, for them, how a model loads, how it is rebuilt from saved tensors,
// where its config and tokenizer files are, what task data goes with it and
// which built-in models it lists. Every spec is resolved here: load_model,
// build_model, load_task_data, model_files_dir and list_builtin_models
// (models/builtin.h) and the tuning config's model check ask model_family().
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "models/builtin.h"
#include "models/data_options.h"

namespace qtune {

/// What load_task_data asks a family for.
struct TaskRequest {
  int64_t calibration_samples = 0;
  int64_t eval_samples = 0;  ///< <= 0: all
  uint64_t seed = 0;
  std::filesystem::path cache_dir;
  /// A language model's config and tokenizer folder when the caller has it
  /// (a saved model), else the family's files_dir.
  std::filesystem::path files_dir;
  LmDataOptions lm_data;
  ImageDataOptions images;
};

struct ModelFamily {
  const char* name;  ///< "fmnist-cnn", "builtin-lm", "hf-checkpoint"
  /// Token ids in, logits per position out (perplexity, text data), rather
  /// than a classifier of images (top-1, image data).
  bool language_model;
  /// Whether `spec` is one of this family's (families are asked in table order).
  bool (*matches)(const std::string& spec);
  /// The folder of config.json and tokenizer files (a built-in LM's is built
  /// on first use, `progress` on stderr); empty for a family without them.
  std::filesystem::path (*files_dir)(const std::string& spec,
                                     const std::filesystem::path& cache_dir, bool progress);
  ModelPtr (*load)(const std::string& spec, const ModelOptions& options);
  /// The architecture with saved tensors; `files_dir` as files_dir() gives it
  /// (or a saved model's own copy).
  ModelPtr (*build)(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                    const std::filesystem::path& files_dir);
  TaskData (*task_data)(const std::string& spec, const TaskRequest& request);
  /// The built-in models of the family, with their cache state under cache_dir.
  std::vector<BuiltinInfo> (*builtins)(const std::filesystem::path& cache_dir);
};

/// Every family, in the order specs are matched.
const std::vector<ModelFamily>& model_families();

/// The family that takes `spec`, or qtune::Error:
/// unknown model "SPEC" (known: builtin:fmnist-cnn, ..., hf:DIR, torchscript:FILE).
const ModelFamily& model_family(const std::string& spec);

/// What a tuning config can check before anything loads: a built-in's info
/// (split sizes, window length), or for a user's checkpoint the spec with
/// split sizes unknown (int64 max). An unknown spec: model_family's error.
BuiltinInfo model_info(const std::string& spec, const std::filesystem::path& cache_dir);

}  // namespace qtune
