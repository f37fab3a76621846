// LM speed (bench/lm_speed.h) of a LlamaModel: prefill and decode with its KV
// cache, shared by the trial runner, `qtune bench` and bench/suites/bench_lm.
#pragma once

#include <string>
#include <vector>

#include "bench/lm_speed.h"
#include "models/llama/llama_model.h"

namespace qtune {

/// measure_lm_speed on `model`, batch 1, under no-grad; each sequence starts
/// from an empty KV cache.
LmSpeed measure_llama_speed(const LlamaModel& model, const std::vector<int64_t>& tokens,
                            const LmSpeedOptions& options);

/// `text` (token ids) repeated until it has `count` tokens: the speed of a
/// step does not depend on which token it reads. Empty text is a qtune::Error.
std::vector<int64_t> repeat_tokens(const std::vector<int64_t>& text, int64_t count);

}  // namespace qtune
