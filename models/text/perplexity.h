// Perplexity of a causal language model over a token stream with a sliding
// window (Hugging Face's perplexity guide, llama.cpp's perplexity tool): a
// window feeds `context` tokens and each position predicts the next token;
// windows start every `stride` tokens, and each scores only the tokens no
// earlier window scored. The first window scores all its targets (the tokens
// after its first, and the one after it), so every token but the stream's
// first is scored exactly once, for any stride: with stride == context (no overlap) each token sees
// 1..context tokens, with stride < context a later window's tokens see
// context - stride + 1 .. context tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/json.h"
#include "models/evaluator.h"
#include "models/model.h"
#include "models/text/tokenizer.h"

namespace qtune {

struct PerplexityOptions {
  int64_t context = 256;  ///< tokens fed per window (each predicts the next)
  int64_t stride = 0;     ///< tokens between window starts; 0 = context (no overlap)
  int64_t batch = 8;      ///< windows per forward
};

struct PerplexityResult {
  double perplexity = 0;     ///< exp(mean_nll)
  double mean_nll = 0;       ///< nats per scored token
  double bits_per_byte = 0;  ///< total NLL / ln 2 / bytes of the scored tokens
  int64_t tokens = 0;        ///< tokens scored
  int64_t bytes = 0;         ///< text bytes of the scored tokens
  int64_t windows = 0;

  /// metric "perplexity", value = perplexity, higher_is_better false, samples = tokens.
  EvalResult eval_result() const;
  /// {"perplexity", "bits_per_byte", "tokens", "mean_nll", "bytes"}: the extra
  /// fields of `qtune eval --json`.
  Json to_json() const;
};

/// Text bytes of a token id (Tokenizer::token_bytes).
using TokenBytesFn = std::function<int64_t(int64_t id)>;

/// Perplexity of `model` (forward: int64 ids [B, T] -> logits [B, T, V]) over
/// `tokens`. Runs under at::NoGradGuard; NLL accumulates in double.
/// Fewer than 2 tokens, context < 1, stride outside [1, context] or batch < 1
/// is a qtune::Error; so is logits of the wrong shape (naming it).
PerplexityResult evaluate_perplexity(const Model& model, const std::vector<int64_t>& tokens,
                                     const TokenBytesFn& token_bytes,
                                     const PerplexityOptions& options = {});
PerplexityResult evaluate_perplexity(const Model& model, const std::vector<int64_t>& tokens,
                                     const Tokenizer& tokenizer,
                                     const PerplexityOptions& options = {});

/// Perplexity of independent windows (int64 ids [N, T], T >= 2), as a
/// calibration set holds them: in each row, position j predicts token j + 1,
/// so a row scores its T - 1 last tokens seeing only the row. No token bytes:
/// bits_per_byte is NaN. A bad shape is a qtune::Error.
PerplexityResult evaluate_window_perplexity(const Model& model, const at::Tensor& windows,
                                            int64_t batch = 8);

/// An evaluator (TaskData::evaluator) scoring perplexity over fixed tokens.
/// `on_result` (optional) also receives the full result (bits per byte), e.g.
/// for `qtune eval --json`.
EvalFn perplexity_evaluator(std::vector<int64_t> tokens, TokenBytesFn token_bytes,
                            PerplexityOptions options,
                            std::function<void(const PerplexityResult&)> on_result = nullptr);

}  // namespace qtune
