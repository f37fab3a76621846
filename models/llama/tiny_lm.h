// The built-in tiny language models and the language-model task data.
// Private to models/ (builtin.cpp dispatches here).
//
// builtin:tiny-lm is a small Llama (hidden 256, 4 layers, 4 heads, 2 kv heads:
// GQA) trained with a fixed seed on the King James Bible's training split with
// a byte-level BPE tokenizer trained on the same text. It is cached as a
// Hugging Face folder (config.json, model.safetensors, tokenizer.json) plus a
// recipe tag file, so it loads through the same path as a user's checkpoint;
// a folder whose tag differs (another qtune's recipe) is retrained.
// builtin:tiny-lm-micro is the same code path scaled down to seconds (tests).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "models/builtin.h"
#include "models/llama/llama_model.h"

namespace qtune {

/// The tag file in a tiny LM folder: its content identifies the recipe.
inline constexpr const char* kTinyLmTagFile = "qtune_recipe.txt";

/// True for "builtin:tiny-lm" and "builtin:tiny-lm-micro".
bool is_tiny_lm_spec(const std::string& spec);
/// The built-in LMs for list_builtin_models.
std::vector<BuiltinInfo> tiny_lm_infos(const std::filesystem::path& cache_dir);

/// The cached folder of a tiny LM, trained (and written atomically) first if
/// missing or stale.
std::filesystem::path ensure_tiny_lm(const std::string& spec,
                                     const std::filesystem::path& cache_dir, bool progress);

/// "hf:DIR" -> DIR; a directory holding config.json -> itself; else empty.
std::filesystem::path hf_dir_of_spec(const std::string& spec);

/// Calibration windows, held-out windows and the perplexity evaluator of a
/// language model whose folder (with tokenizer files) is `dir`, on the bible
/// splits. `seqlen` tokens per window.
TaskData lm_task_data(const std::filesystem::path& dir, int64_t seqlen, int64_t calibration_samples,
                      int64_t eval_samples, uint64_t seed);

/// The default window length of an LM spec: 256 for tiny-lm, 64 for
/// tiny-lm-micro, min(256, max_position_embeddings) for a checkpoint.
int64_t lm_default_seqlen(const std::string& spec, const std::filesystem::path& dir);

}  // namespace qtune
