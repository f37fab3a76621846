// Text generation with a KV cache: the prompt is run once (prefill), then one
// token at a time, each step attending to the cached keys/values.
#pragma once

#include <cstdint>
#include <vector>

#include "models/llama/llama_model.h"

namespace qtune {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  int64_t top_k = 1;  ///< sample among the k most likely tokens; 1 = greedy
  double temperature = 1.0;
  uint64_t seed = 0;        ///< seeds the sampler; the same seed gives the same tokens
  bool stop_at_eos = true;  ///< stop after emitting one of the config's eos ids
};

/// Continues `prompt` (token ids, non-empty); returns only the new tokens.
std::vector<int64_t> generate(const LlamaModel& model, const std::vector<int64_t>& prompt,
                              const GenerateOptions& options);

/// The same without a cache: the whole sequence is recomputed for every token.
/// Slow; the reference the cached path is tested against.
std::vector<int64_t> generate_uncached(const LlamaModel& model, const std::vector<int64_t>& prompt,
                                       const GenerateOptions& options);

}  // namespace qtune
