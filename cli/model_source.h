// `--model DIR|SPEC`: a saved qtune model directory or a model spec.
#pragma once

#include <filesystem>
#include <string>

#include "cli/args.h"
#include "common/json.h"
#include "models/model.h"

namespace qtune::cli {

struct LoadedModel {
  ModelPtr model;
  std::string spec;              ///< the architecture spec (from qconfig.json for a saved dir)
  bool saved = false;            ///< came from a saved directory
  Json qconfig;                  ///< qconfig.json of a saved dir
  std::string backend_override;  ///< --backend given: the layers run on it, not the saved ones
  /// A language model's config.json and tokenizer folder (a saved dir's own
  /// for a self-contained save); empty for other models. Task data, the
  /// tokenizer and export read it, never the spec's folder directly.
  std::filesystem::path files_dir;
  /// "gptq" / "awq": a pre-quantized Hugging Face checkpoint (not to be quantized again).
  std::string quantized_checkpoint;
};

/// `backend_override` (--backend, "" if absent) rebuilds a saved model's
/// quantized layers on that backend, or runs a pre-quantized checkpoint's on
/// it ("auto" when absent); for anything else it is a UsageError.
/// `weights_dtype` (--weights-dtype) is what a spec's or checkpoint's weights
/// are held in (ModelOptions::weights_dtype); other than fp32 for a saved or
/// pre-quantized model it is a UsageError.
LoadedModel load_model_arg(const std::string& arg, const std::filesystem::path& cache_dir,
                           bool progress, const std::string& backend_override = "",
                           at::ScalarType weights_dtype = at::kFloat);

/// --weights-dtype float32|bfloat16|float16 (the tuning config's weights_dtype).
FlagSpec weights_dtype_flag();
/// Its value (fp32 when absent); a bad name is a UsageError.
at::ScalarType weights_dtype_arg(const Args& args);

/// --cache-dir if given, else the default cache.
std::filesystem::path cache_dir_arg(const std::string& given);

/// Whether progress output goes to a terminal (stderr): quiet otherwise.
bool stderr_is_terminal();

}  // namespace qtune::cli
