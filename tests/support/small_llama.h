// A small random Llama shape the tests quantize in seconds (hidden 128, two
// layers, GQA 4/2, vocabulary 512), and token rows drawn with std::mt19937_64.
#pragma once

#include <ATen/ATen.h>

#include <random>
#include <vector>

#include "models/llama/llama_config.h"

namespace qtune::testing {

inline LlamaConfig small_llama_config() {
  LlamaConfig c;
  c.hidden_size = 128;
  c.intermediate_size = 352;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.vocab_size = 512;
  c.max_position_embeddings = 128;
  c.rms_norm_eps = 1e-6;
  return c;
}

/// `n` token ids below 512 (the vocabulary above), the same for a seed everywhere.
inline std::vector<int64_t> small_llama_tokens(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> t(static_cast<size_t>(n));
  for (auto& v : t) v = static_cast<int64_t>(rng() % 512);
  return t;
}

}  // namespace qtune::testing
