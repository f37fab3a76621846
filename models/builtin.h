// Built-in models and their data, and loading a model from a spec.
//
// Specs: "builtin:fmnist-cnn" (the default model users get, trained on first
// use and cached), "builtin:fmnist-cnn-tiny" (same architecture trained for a
// few steps: tests), "builtin:tiny-lm" (a small Llama trained on the KJV bible
// on first use, cached as a Hugging Face folder), "builtin:tiny-lm-micro" (the
// same in seconds: tests), "builtin:llama-1b-shape" (TinyLlama-1.1B's shapes
// with random weights, built in seconds and cached: speed measurements only),
// "hf:DIR" or a plain DIR holding config.json (a Llama/Mistral/Qwen2 checkpoint).
// The functions below resolve a spec through the one table of model families
// (models/catalog.h).
//
// Language-model task data: calibration = n windows of `seqlen` tokens drawn
// with the seed from the bible's calibration slice; evaluation = consecutive
// held-out windows of `seqlen` tokens and a perplexity evaluator over them
// (eval_samples = windows, 0 or more than there are = all). seqlen: 256 for
// tiny-lm, 64 for tiny-lm-micro, 128 for llama-1b-shape, min(256,
// max_position_embeddings) for hf specs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "models/dataset.h"
#include "models/evaluator.h"
#include "models/model.h"

namespace qtune {

/// Where trained built-in models are cached: --cache-dir, else
/// $XDG_CACHE_HOME/qtune, else ~/.cache/qtune.
std::filesystem::path default_cache_dir();

struct BuiltinInfo {
  std::string spec;  ///< "builtin:fmnist-cnn"
  std::string description;
  std::filesystem::path cache_file;  ///< where its trained weights live
  /// What to show users as its location: the weight file, or for a language
  /// model its Hugging Face folder (config.json, model.safetensors, tokenizer.json).
  std::filesystem::path path;
  int64_t seqlen = 0;  ///< language models: tokens per calibration/evaluation window
  bool cached = false;
  /// Rows of its data splits, so a config's sample counts can be checked
  /// before anything loads: calibration is drawn from train, evaluation from test.
  int64_t train_rows = 0;
  int64_t test_rows = 0;
};
std::vector<BuiltinInfo> list_builtin_models(const std::filesystem::path& cache_dir);

/// The data that goes with a model: calibration, evaluation and the evaluator.
struct TaskData {
  /// Drawn from the training split. Classifiers: images with labels. Language
  /// models: int64 token windows [n, seqlen], labels empty.
  Dataset calibration;
  /// The held-out split. Classifiers: test images with labels. Language models:
  /// held-out token windows (what latency is measured on; `evaluator` scores).
  Dataset evaluation;
  /// The task's metric when it is not top-1 over `evaluation` (perplexity).
  EvalFn evaluator;
  /// evaluator(model) if set, else top-1 over `evaluation`.
  EvalResult evaluate(const Model& model) const;
};

/// The task's metric over its calibration set: top-1 over labelled
/// calibration images, perplexity of calibration token windows
/// (evaluate_window_perplexity); null when the set is empty or unlabelled.
EvalFn calibration_evaluator(const TaskData& data);

struct ModelOptions {
  std::filesystem::path cache_dir = default_cache_dir();
  bool progress = false;  ///< print training progress (on a terminal)
  /// What a language model's weights are held in: fp32 (the default), or
  /// bf16/fp16 to take half the memory, a checkpoint of that dtype staying a
  /// shared view of its file mapping (LlamaModel). Computation is fp32 either
  /// way, so a checkpoint stored in this dtype gives the same numbers in both.
  at::ScalarType weights_dtype = at::kFloat;
};

/// "float32", "bfloat16" or "float16" (or "fp32", "bf16", "fp16") as an ATen
/// dtype (torch_dtype_name gives the long name back); anything else is a
/// qtune::Error naming `where` and the choices.
at::ScalarType parse_weights_dtype(const std::string& name, const std::string& where);

/// Builds the model a spec names, training and caching a built-in one if needed.
/// Throws qtune::Error for an unknown spec or a missing/corrupt file.
ModelPtr load_model(const std::string& spec, const ModelOptions& options = {});

/// The folder holding a language model's config.json and tokenizer files: the
/// checkpoint folder of "hf:DIR" (or DIR), a built-in LM's folder under
/// `cache_dir` (built if missing, `progress` on stderr); empty for models
/// without such files.
std::filesystem::path model_files_dir(const std::string& spec,
                                      const std::filesystem::path& cache_dir = default_cache_dir(),
                                      bool progress = false);

/// Builds the architecture of `spec` with the given tensors (as saved by
/// storage/artifact.h: "<layer>.weight", "<layer>.bias", extra tensors).
/// Layers absent from `tensors` are an error. A language model's config comes
/// from `files_dir` when given (a self-contained saved model: the spec's own
/// folder need not exist any more), else from model_files_dir(spec, cache_dir).
ModelPtr build_model(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                     const std::filesystem::path& cache_dir = default_cache_dir(),
                     const std::filesystem::path& files_dir = {});

/// The task data of `spec` (Fashion-MNIST for the fmnist models).
/// `calibration_samples` rows are drawn from the training split with `seed`;
/// `eval_samples` <= 0 means the whole test split. Language models: see the
/// top of this file; their tokenizer is read from `files_dir` when given, else
/// from model_files_dir(spec, cache_dir).
TaskData load_task_data(const std::string& spec, int64_t calibration_samples, int64_t eval_samples,
                        uint64_t seed, const std::filesystem::path& cache_dir = default_cache_dir(),
                        const std::filesystem::path& files_dir = {});

}  // namespace qtune
