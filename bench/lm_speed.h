// Language-model speed in tokens/s: prefill (one forward of the prompt) and
// decode (new tokens one at a time against the KV cache, batch 1). This harness knows
// no model type: the caller says what starting a sequence and taking one step
// mean (bench/llama_speed.h does it for a LlamaModel).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bench/latency.h"
#include "common/json.h"

namespace qtune {

struct LmSession {
  /// Starts a fresh sequence (empty KV cache) and runs the prompt through it.
  std::function<void(const std::vector<int64_t>& prompt)> prefill;
  /// Feeds one more token to the current sequence (its KV cache grows by one).
  std::function<void(int64_t token)> decode_step;
};

struct LmSpeedOptions {
  int64_t prompt_tokens = 128;
  int64_t new_tokens = 64;  ///< decode steps per sequence; 0 = prefill only
  /// Untimed sequences first (lazy init, first touch of the weights); each is
  /// the prefill and one decode step.
  int warmup_runs = 1;
  int min_runs = 3;  ///< timed sequences, at least
  /// Timed sequences continue until this many decode steps were timed too.
  int64_t min_decode_steps = 0;
};

struct LmSpeed {
  int64_t prompt_tokens = 0;
  int64_t new_tokens = 0;
  int runs = 0;          ///< timed sequences
  LatencyStats prefill;  ///< ms per prefill of the prompt: one sample per sequence
  LatencyStats decode;   ///< ms per decode step: one sample per step (runs 0 if new_tokens 0)
  double prefill_tokens_per_s = 0;  ///< timed prompt tokens / summed prefill time
  double decode_tokens_per_s = 0;   ///< timed decode steps / summed decode time; 0 if none
  /// {"prompt_tokens", "new_tokens", "runs", "prefill_tokens_per_s", "decode_tokens_per_s",
  ///  "prefill": LatencyStats::to_json(), "decode": LatencyStats::to_json() or null}
  Json to_json() const;
};

/// Runs options.warmup_runs untimed sequences, then timed ones (at least
/// min_runs, and until min_decode_steps decode steps were timed). A sequence
/// is prefill(first prompt_tokens of `tokens`) then one decode_step per next
/// token of `tokens`, new_tokens of them: every sequence runs the same text,
/// and the time of choosing a token (argmax, sampling) is left out.
/// `tokens` shorter than prompt_tokens + new_tokens is a qtune::Error.
LmSpeed measure_lm_speed(const LmSession& session, const std::vector<int64_t>& tokens,
                         const LmSpeedOptions& options);

}  // namespace qtune
