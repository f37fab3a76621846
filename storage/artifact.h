// The saved quantized model: a directory with
//   qconfig.json       {"format":"qtune-model","format_version":1,"model":SPEC,
//                       "source_dtype":"float32"|"float16"|"bfloat16",
//                       "quant_config":{...}, "layers":{name:{kind, quantized, bits,
//                       group_size, scheme, backend, backend_detail, backend_reason,
//                       algorithm, shape}}, "metrics":{...}}
//   model.safetensors  per quantized layer "<name>.qweight" (int32 packed rows),
//                      "<name>.scales" (f32), "<name>.qzeros" (i32, asym only),
//                      "<name>.bias"; per unquantized layer "<name>.weight", "<name>.bias";
//                      and the model's extra tensors under their own names.
//                      Weights, biases and extra tensors are in the source dtype
//                      (a bf16 checkpoint's embeddings stay bf16), except one the
//                      model changed so that the source dtype cannot hold it
//                      exactly (kept fp32).
//   language models also: config.json (the source's, torch_dtype = source_dtype),
//                      the tokenizer files and generation_config.json when the source
//                      has them (models/llama/hf_checkpoint.h hf_tokenizer_files()).
// load() rebuilds a runnable model from the directory alone, so it can move to
// another machine. A directory saved before config.json was written beside the
// weights (same format_version) still loads, with config and tokenizer from the
// source its "model" spec names.
#pragma once

#include <filesystem>

#include "common/json.h"
#include "models/model.h"
#include "quantizers/quantizer.h"

namespace qtune {

struct SavedModelInfo {
  std::string model_spec;
  Json qconfig;  ///< the whole qconfig.json
  /// The folder holding a language model's config.json and tokenizer: the
  /// saved directory itself, or for an older save the source's folder; empty
  /// for models without such files (load_task_data / export read it).
  std::filesystem::path files_dir;
};

/// Saves `model` (quantized or not). `config` and `reports` describe how it
/// was quantized; `metrics` (may be empty) are recorded alongside.
void save_model(const Model& model, const std::filesystem::path& dir, const QuantConfig& config,
                const std::vector<LayerReport>& reports, const Json& metrics = Json::object());

/// Loads a saved directory; qtune::Error on a missing, truncated or corrupt file.
/// Each quantized layer runs on the backend it was saved with: only that one
/// reproduces the recorded accuracy exactly. A non-empty `backend_override`
/// ("auto" or a backend name) rebuilds every quantized layer on that backend
/// instead; a layer it cannot run is a qtune::Error naming the layer and why.
ModelPtr load_saved_model(const std::filesystem::path& dir, SavedModelInfo* info = nullptr,
                          const std::string& backend_override = "");

/// True if `dir` looks like a saved model (has qconfig.json).
bool is_saved_model_dir(const std::filesystem::path& dir);

/// Bytes the model's weights take when saved (quantized layers packed).
int64_t model_storage_bytes(const Model& model);

}  // namespace qtune
