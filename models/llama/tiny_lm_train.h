// Training the built-in tiny LM (a small Llama) on a token stream. Private to
// models/. The only TU here that includes <torch/torch.h> is tiny_lm_train.cpp
// (AdamW needs torch::optim).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/llama/llama_config.h"

namespace qtune {

struct TinyLmRecipe {
  int64_t steps = 600;
  int64_t batch = 16;     ///< windows per step
  int64_t context = 256;  ///< tokens per window
  double lr = 3e-3;       ///< AdamW peak; linear warm-up, then cosine to lr * final_lr_ratio
  double final_lr_ratio = 0.1;
  int64_t warmup = 30;        ///< steps
  double weight_decay = 0.1;  ///< on matrices only (not norms), as nanoGPT/HF do
  double init_std = 0.02;     ///< N(0, init_std) for matrices and embeddings (HF's default)
  uint64_t seed = 0;
  int threads = 0;  ///< intra-op threads while training; 0 = keep the current setting
  /// Identifies the recipe (and the architecture) in the cache tag.
  std::string tag(const LlamaConfig& config) const;
};

/// Trains a model of `config` on windows of `tokens` drawn with the recipe's
/// seed; returns its tensors under HF names (fp32, no autograd history). With
/// the same recipe, tokens and thread count the result is bit-identical.
/// Prints step, loss and ETA to stderr when `progress`.
std::map<std::string, at::Tensor> train_tiny_lm(const LlamaConfig& config,
                                                const std::vector<int64_t>& tokens,
                                                const TinyLmRecipe& recipe, bool progress);

}  // namespace qtune
