// The built-in language models and the language-model task data.
// Private to models/ (builtin.cpp dispatches here).
//
// builtin:tiny-lm is a small Llama (hidden 256, 4 layers, 4 heads, 2 kv heads:
// GQA) trained with a fixed seed on the King James Bible's training split with
// a byte-level BPE tokenizer trained on the same text. builtin:tiny-lm-micro is
// the same code path scaled down to seconds (tests). builtin:llama-1b-shape has
// TinyLlama-1.1B's shapes and random weights (the initialisation tiny-lm starts
// training from, never trained): a model for speed measurements only.
// Each is cached as a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json) plus a recipe tag file, so it loads through the same path as
// a user's checkpoint; a folder whose tag differs (another qtune's recipe) is
// rebuilt.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "models/builtin.h"
#include "models/llama/llama_model.h"
#include "models/llama/tiny_lm_train.h"

namespace qtune {

/// The tag file in a built-in LM folder: its content identifies the recipe.
inline constexpr const char* kBuiltinLmTagFile = "qtune_recipe.txt";

/// How a built-in LM is made. The catalog's entries are fixed; tests build
/// scaled-down copies through the same code path.
struct BuiltinLmRecipe {
  std::string spec;
  std::string description;
  std::string dir_name;  ///< its folder under the cache dir
  LlamaConfig config;    ///< vocab_size is the BPE target; a trained LM takes the tokenizer's size
  TinyLmRecipe recipe;
  /// Bytes of the bible's training split used for the tokenizer (and the
  /// model); 0 = all. Cut at a line end.
  int64_t text_bytes = 0;
  int64_t seqlen = 256;  ///< calibration/evaluation window
  /// False: the weights are the initialisation drawn with recipe.seed and
  /// recipe.init_std (init_llama_tensors), never trained: speed measurements only.
  bool trained = true;
  /// How model.safetensors stores the weights (bf16 halves a 1B model's disk
  /// and write time; the loader widens them to fp32).
  at::ScalarType stored_dtype = at::kFloat;
  /// What identifies the recipe in the folder's tag file.
  std::string tag() const;
};

/// The catalog entry of a built-in LM spec (QT_ASSERT: is_builtin_lm_spec).
const BuiltinLmRecipe& builtin_lm_recipe(const std::string& spec);

/// The folder cache_dir/recipe.dir_name, built (and written atomically) first
/// if missing or stale.
std::filesystem::path ensure_builtin_lm(const BuiltinLmRecipe& recipe,
                                        const std::filesystem::path& cache_dir, bool progress);

/// True for "builtin:tiny-lm", "builtin:tiny-lm-micro" and "builtin:llama-1b-shape".
bool is_builtin_lm_spec(const std::string& spec);
/// The built-in LMs for list_builtin_models.
std::vector<BuiltinInfo> builtin_lm_infos(const std::filesystem::path& cache_dir);

/// The cached folder of a built-in LM, built (and written atomically) first if
/// missing or stale.
std::filesystem::path ensure_builtin_lm(const std::string& spec,
                                        const std::filesystem::path& cache_dir, bool progress);

/// "hf:DIR" -> DIR; a directory holding config.json -> itself; else empty.
std::filesystem::path hf_dir_of_spec(const std::string& spec);

/// Calibration windows, held-out windows and the perplexity evaluator of a
/// language model whose folder (with tokenizer files) is `dir`, on the bible
/// splits. `seqlen` tokens per window.
TaskData lm_task_data(const std::filesystem::path& dir, int64_t seqlen, int64_t calibration_samples,
                      int64_t eval_samples, uint64_t seed);

/// The default window length of an LM spec: 256 for tiny-lm, 64 for
/// tiny-lm-micro, 128 for llama-1b-shape, min(256, max_position_embeddings)
/// for a checkpoint.
int64_t lm_default_seqlen(const std::string& spec, const std::filesystem::path& dir);

}  // namespace qtune
