// The saved quantized model: a directory with
//   qconfig.json       {"format":"qtune-model","format_version":1,"model":SPEC,
//                       "quant_config":{...}, "layers":{name:{kind, quantized, bits,
//                       group_size, scheme, backend, backend_detail, backend_reason,
//                       algorithm, shape}}, "metrics":{...}}
//   model.safetensors  per quantized layer "<name>.qweight" (int32 packed rows),
//                      "<name>.scales" (f32), "<name>.qzeros" (i32, asym only),
//                      "<name>.bias"; per fp32 layer "<name>.weight", "<name>.bias";
//                      and the model's extra tensors under their own names.
// load() rebuilds a runnable model from the directory alone.
#pragma once

#include <filesystem>

#include "common/json.h"
#include "models/model.h"
#include "quantizers/quantizer.h"

namespace qtune {

struct SavedModelInfo {
  std::string model_spec;
  Json qconfig;  ///< the whole qconfig.json
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
