// A freshly initialised Llama, as Hugging Face initialises one: what the
// built-in tiny LM starts training from, and what builtin:llama-1b-shape is.
// Private to models/.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "models/llama/llama_config.h"

namespace qtune {

/// Every tensor a model of `config` needs, under HF names: matrices and
/// embeddings N(0, init_std), norms 1, biases 0 (lm_head only when untied).
/// Drawn in one fixed order from `gen` (std::mt19937 inside ATen: the same seed
/// gives the same tensors on every machine and thread count). Each tensor is
/// drawn in fp32 and then held in `dtype`, so a bf16 model never holds its
/// whole fp32 form.
std::map<std::string, at::Tensor> init_llama_tensors(const LlamaConfig& config, double init_std,
                                                     at::Generator& gen,
                                                     at::ScalarType dtype = at::kFloat);

}  // namespace qtune
