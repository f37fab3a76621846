// Import of pre-quantized Hugging Face checkpoints: a Llama-family folder
// whose config.json has a quantization_config of quant_method "gptq"
// (checkpoint_format gptq or gptq_v2, sym or not, desc_act with g_idx,
// GPTQModel's dynamic overrides) or "awq" (version gemm). Each layer that has
// a "<layer>.qweight" becomes a QuantizedWeight converted exactly (same
// codes; scales widened from fp16) running on the backend chosen for it;
// every other tensor loads as for a float checkpoint.
#pragma once

#include <filesystem>
#include <string>

#include "models/model.h"

namespace qtune {

/// Loads `dir` (hf_quant_method(dir) not empty) as model `spec` ("hf:DIR").
/// `backend` ("auto" or a name) is passed to choose_backend for every
/// quantized layer. Bad input is one qtune::Error naming the file and tensor.
ModelPtr load_hf_quantized_model(const std::filesystem::path& dir, const std::string& spec,
                                 const std::string& backend = "auto");

}  // namespace qtune
