#include "cli/model_source.h"

#include <unistd.h>

#include "common/error.h"
#include "models/builtin.h"
#include "models/llama/builtin_lm.h"
#include "models/llama/hf_checkpoint.h"
#include "storage/artifact.h"
#include "storage/formats/hf_quantized_import.h"

namespace qtune::cli {

FlagSpec weights_dtype_flag() {
  return {"weights-dtype", true, false,
          "what a language model's weights are held in: float32 (default), bfloat16 or float16 "
          "(half the memory; computation stays float32)"};
}

at::ScalarType weights_dtype_arg(const Args& args) {
  const auto v = args.get("weights-dtype");
  if (!v) return at::kFloat;
  try {
    return parse_weights_dtype(*v, "--weights-dtype");
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

LoadedModel load_model_arg(const std::string& arg, const std::filesystem::path& cache_dir,
                           bool progress, const std::string& backend_override,
                           at::ScalarType weights_dtype) {
  LoadedModel out;
  std::error_code ec;
  std::string spec = arg;
  // A Hugging Face checkpoint directory (config.json + safetensors) is spec "hf:DIR".
  if (std::filesystem::is_directory(arg, ec) && !is_saved_model_dir(arg) &&
      std::filesystem::exists(std::filesystem::path(arg) / "config.json", ec))
    spec = "hf:" + arg;
  else if (std::filesystem::is_directory(arg, ec)) {
    QT_CHECK(is_saved_model_dir(arg), arg,
             ": neither a saved qtune model (qconfig.json) nor a Hugging Face checkpoint "
             "(config.json)");
    if (weights_dtype != at::kFloat)
      throw UsageError(arg +
                       ": --weights-dtype applies to a model spec or checkpoint; a saved model "
                       "loads as it was saved");
    SavedModelInfo info;
    out.model = load_saved_model(arg, &info, backend_override);
    out.spec = info.model_spec;
    out.qconfig = info.qconfig;
    out.files_dir = info.files_dir;
    out.saved = true;
    out.backend_override = backend_override;
    return out;
  }
  // A pre-quantized Hugging Face checkpoint (GPTQ, AWQ) keeps its quantized layers.
  if (const auto dir = hf_dir_of_spec(spec); !dir.empty()) {
    if (std::string method = hf_quant_method(dir); !method.empty()) {
      if (weights_dtype != at::kFloat)
        throw UsageError(
            arg + ": --weights-dtype applies to unquantized checkpoints; this one is " + method);
      out.model =
          load_hf_quantized_model(dir, spec, backend_override.empty() ? "auto" : backend_override);
      out.spec = spec;
      out.files_dir = dir;
      out.quantized_checkpoint = std::move(method);
      return out;
    }
  }
  if (!backend_override.empty())
    throw UsageError(arg +
                     ": --backend runs a saved quantized model on another backend; "
                     "this is not a saved model directory");
  // Something path-like that does not exist is a missing directory, not a spec.
  const bool path_like = arg.find('/') != std::string::npos || arg.rfind('.', 0) == 0;
  QT_CHECK(!path_like || spec.rfind("builtin:", 0) == 0 || spec.rfind("hf:", 0) == 0, arg,
           ": no such model directory");
  ModelOptions options;
  options.cache_dir = cache_dir;
  options.progress = progress;
  options.weights_dtype = weights_dtype;
  out.model = load_model(spec, options);
  out.spec = spec;
  out.files_dir = model_files_dir(spec, cache_dir);
  return out;
}

std::filesystem::path cache_dir_arg(const std::string& given) {
  return given.empty() ? default_cache_dir() : std::filesystem::path(given);
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace qtune::cli
