// Where a language model's calibration and evaluation data come from when they
// are the user's files rather than the built-in text: the tuning YAML's
// calibration:/evaluation: blocks and the --calibration-file/--eval-file flags
// of qtune quantize and qtune eval fill the same value, so a trial and
// `qtune eval` read the same tokens.
#pragma once

#include <cstdint>
#include <string>

#include "common/json.h"

namespace qtune {

struct LmDataOptions {
  /// Plain text or JSON Lines; empty: the built-in calibration text.
  std::string calibration_file;
  std::string calibration_format = "text";  ///< text | jsonl
  std::string jsonl_field;                  ///< jsonl: the string field holding a document
  /// text: one document per line (split: line) instead of per blank-line-separated paragraph.
  bool one_document_per_line = false;
  /// Tokens per calibration window; 0: the built-in window for the built-in
  /// text, min(2048, the model's context) for a file.
  int64_t calibration_seqlen = 0;
  /// Seed of the calibration draw; -1: the run's seed.
  int64_t calibration_seed = -1;

  /// Perplexity over this text file; empty: the built-in held-out text.
  std::string eval_file;
  int64_t eval_seqlen = 0;  ///< 0: as calibration_seqlen's default
  int64_t stride = 0;       ///< tokens between window starts; 0: eval_seqlen (no overlap)
  int64_t max_windows = 0;  ///< 0: every window of the file

  bool uses_files() const { return !calibration_file.empty() || !eval_file.empty(); }
  /// Only the keys that differ from the defaults, so that configs without
  /// user data keep their canonical JSON (and their --resume identity).
  Json to_json() const;
};

/// A classifier's data from the user's IDX files (gzip or plain) or NumPy
/// .npy files, in place of the built-in Fashion-MNIST splits. Pixels reach the model as float32
/// [N, 1, H, W] scaled to [0, 1], then (x - mean) / std when `normalize`.
struct ImageDataOptions {
  std::string calibration_images, calibration_labels;  ///< empty: the training split
  std::string eval_images, eval_labels;                ///< empty: the test split
  /// "idx" (idx_images/idx_labels) or "npy" (npy/labels), per split.
  std::string calibration_format = "idx", eval_format = "idx";
  bool normalize = false;
  double mean = 0, std = 1;
  bool uses_files() const { return !calibration_images.empty() || !eval_images.empty(); }
  Json to_json() const;  ///< {} when no file is named
};

/// An external evaluator (evaluation: {command: ...}): run through `sh -c`
/// with "{model_dir}" replaced by the shell-quoted path of the model, saved
/// in qtune's form or exported to `export_format`; it prints a JSON object
/// holding `metric` on stdout.
struct EvalCommand {
  std::string command;   ///< empty: no external evaluator
  double timeout_s = 0;  ///< 0: none
  std::string metric;
  bool higher_is_better = true;
  /// An export format (storage/formats/export.h: hf-gptq, hf-awq, gguf) the
  /// command is handed instead of qtune's form; empty: qtune's form.
  std::string export_format;
  Json to_json() const;  ///< {} when there is no command
};

}  // namespace qtune
