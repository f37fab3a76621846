// What the hf-gptq and hf-awq exporters share: a Hugging Face checkpoint
// directory of a Llama-family model whose quantized layers are stored in a
// packed layout (hf_gptq_layout.h, hf_awq_layout.h) and everything else as
// float tensors of the model's source dtype, written through
// save_hf_checkpoint (one safetensors writer, tokenizer files copied).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/json.h"
#include "models/llama/llama_model.h"
#include "storage/formats/export.h"

namespace qtune {

struct HfExportLayer {
  const LayerSlot* slot = nullptr;
  std::string name;
  const QuantizedWeight* weight = nullptr;  ///< null: the layer is not quantized
};

struct HfExportModel {
  const LlamaModel* model = nullptr;
  std::vector<HfExportLayer> layers;  ///< in the model's order
};

/// The model's layers for `format`: a Llama-family model whose quantized layers
/// expose their weight-only QuantizedWeight. Refuses (one line naming the layer)
/// int8 (W8A8) layers and quantized layers behind an input multiplier.
HfExportModel hf_export_layers(const ExportInput& in, const std::string& format);

/// Writes `out`: model.safetensors with `quantized` (the packed layer tensors,
/// by full name) and every other tensor of the model in its source dtype
/// (unquantized layers' input multipliers folded into their weights),
/// config.json with `quantization_config`, and the tokenizer files of
/// in.files_dir. Returns the notes on what changed (dtype, folded multipliers).
std::vector<std::string> write_hf_quantized(const std::filesystem::path& out,
                                            const HfExportModel& m, const ExportInput& in,
                                            std::map<std::string, at::Tensor> quantized,
                                            const Json& quantization_config);

/// Tracks the largest relative change of scales rounded to fp16.
class Fp16ScaleError {
 public:
  void add(const at::Tensor& scale_fp32, const at::Tensor& scale_fp16);
  std::string note() const;  ///< "scales rounded to fp16: max relative error ..."

 private:
  double max_rel_ = 0.0;
  int64_t count_ = 0;
};

}  // namespace qtune
