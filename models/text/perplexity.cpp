// Sliding-window perplexity.
#include "models/text/perplexity.h"

#include <cmath>
#include <limits>

#include "common/error.h"
#include "models/work_units.h"

namespace qtune {
namespace {

struct Window {
  int64_t begin;  ///< first input token
  int64_t len;    ///< input tokens; position j predicts token begin + j + 1
  int64_t first;  ///< first scored position
};

}  // namespace

EvalResult PerplexityResult::eval_result() const {
  EvalResult r;
  r.metric = "perplexity";
  r.value = perplexity;
  r.higher_is_better = false;
  r.samples = tokens;
  r.details = to_json();
  return r;
}

Json PerplexityResult::to_json() const {
  Json j;
  j["perplexity"] = perplexity;
  // nlohmann writes NaN as null: "unknown" when no scored token had any bytes.
  j["bits_per_byte"] = bits_per_byte;
  j["tokens"] = tokens;
  j["mean_nll"] = mean_nll;
  j["bytes"] = bytes;
  return j;
}

PerplexityResult evaluate_perplexity(const Model& model, const std::vector<int64_t>& tokens,
                                     const TokenBytesFn& token_bytes,
                                     const PerplexityOptions& options) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t context = options.context;
  const int64_t stride = options.stride == 0 ? context : options.stride;
  QT_CHECK(n >= 2, "perplexity: need at least 2 tokens to score, got ", n);
  QT_CHECK(context >= 1, "perplexity: context must be >= 1, got ", context);
  QT_CHECK(stride >= 1 && stride <= context, "perplexity: stride must be in [1, context=", context,
           "], got ", options.stride);
  QT_CHECK(options.batch >= 1, "perplexity: batch must be >= 1, got ", options.batch);

  std::vector<Window> windows;
  int64_t next = 1;  // first target not scored yet
  for (int64_t begin = 0; next < n; begin += stride) {
    // Inputs stop at n - 1: the last token is only ever a target.
    const int64_t len = std::min(context, n - 1 - begin);
    const int64_t end_target = begin + len;  // last target of this window
    if (end_target >= next) windows.push_back({begin, len, next - begin - 1});
    next = std::max(next, end_target + 1);
  }

  // A unit is a batch of consecutive windows of one length (only the last
  // differs); units run in parallel (models/work_units.h) and each window's
  // NLL is added up in window order, as one thread would.
  std::vector<std::pair<size_t, size_t>> units;
  for (size_t w0 = 0; w0 < windows.size();) {
    size_t w1 = w0 + 1;
    while (w1 < windows.size() && static_cast<int64_t>(w1 - w0) < options.batch &&
           windows[w1].len == windows[w0].len)
      ++w1;
    units.emplace_back(w0, w1);
    w0 = w1;
  }
  at::NoGradGuard no_grad;
  const auto ids = at::tensor(tokens, at::kLong);
  std::vector<double> window_nll(windows.size(), 0);
  for_each_unit(static_cast<int64_t>(units.size()), [&](int64_t unit) {
    const auto [w0, w1] = units[static_cast<size_t>(unit)];
    const int64_t len = windows[w0].len;
    std::vector<at::Tensor> rows;
    for (size_t w = w0; w < w1; ++w) rows.push_back(ids.narrow(0, windows[w].begin, len));
    const auto input = at::stack(rows);
    const auto logits = model.forward(input);
    QT_CHECK(logits.dim() == 3 && logits.size(0) == input.size(0) && logits.size(1) == len,
             "perplexity: the model must map ids [B, T] to logits [B, T, V]; for input ",
             input.sizes(), " it gave ", logits.sizes());
    for (size_t w = w0; w < w1; ++w) {
      const Window& win = windows[w];
      const int64_t count = len - win.first;
      const auto targets = ids.narrow(0, win.begin + win.first + 1, count);
      // log_softmax over the scored positions only: with a large vocabulary a
      // full [B, T, V] copy would double the memory the forward already took.
      const auto logp = at::log_softmax(
          logits[static_cast<int64_t>(w - w0)].narrow(0, win.first, count).to(at::kFloat), -1);
      window_nll[w] = -logp.gather(1, targets.unsqueeze(1)).to(at::kDouble).sum().item<double>();
    }
  });
  double total_nll = 0;
  int64_t scored = 0, bytes = 0;
  for (size_t w = 0; w < windows.size(); ++w) {
    const Window& win = windows[w];
    total_nll += window_nll[w];
    scored += win.len - win.first;
    for (int64_t t = win.begin + win.first + 1; t < win.begin + win.len + 1; ++t)
      bytes += token_bytes(tokens[t]);
  }
  QT_ASSERT(scored == n - 1, "every token but the first is scored once: ", scored, " of ", n);

  PerplexityResult r;
  r.tokens = scored;
  r.bytes = bytes;
  r.windows = static_cast<int64_t>(windows.size());
  r.mean_nll = total_nll / static_cast<double>(scored);
  r.perplexity = std::exp(r.mean_nll);
  r.bits_per_byte = bytes > 0 ? total_nll / std::log(2.0) / static_cast<double>(bytes)
                              : std::numeric_limits<double>::quiet_NaN();
  return r;
}

PerplexityResult evaluate_window_perplexity(const Model& model, const at::Tensor& windows,
                                            int64_t batch) {
  QT_CHECK(windows.dim() == 2 && windows.scalar_type() == at::kLong && windows.size(0) >= 1 &&
               windows.size(1) >= 2,
           "window perplexity: expected int64 token windows [N >= 1, T >= 2], got ",
           windows.sizes(), " ", windows.scalar_type());
  QT_CHECK(batch >= 1, "window perplexity: batch must be >= 1, got ", batch);
  at::NoGradGuard no_grad;
  const int64_t n = windows.size(0), len = windows.size(1);
  // Units of `batch` rows in parallel; the rows' NLLs added in row order.
  std::vector<double> row_nll(static_cast<size_t>(n), 0);
  for_each_unit((n + batch - 1) / batch, [&](int64_t unit) {
    const int64_t b = unit * batch;
    const auto rows = windows.narrow(0, b, std::min(batch, n - b));
    const auto logits = model.forward(rows);
    QT_CHECK(logits.dim() == 3 && logits.size(0) == rows.size(0) && logits.size(1) == len,
             "perplexity: the model must map ids [B, T] to logits [B, T, V]; for input ",
             rows.sizes(), " it gave ", logits.sizes());
    for (int64_t r = 0; r < rows.size(0); ++r) {
      const auto logp = at::log_softmax(logits[r].narrow(0, 0, len - 1).to(at::kFloat), -1);
      const auto targets = rows[r].narrow(0, 1, len - 1);
      row_nll[static_cast<size_t>(b + r)] =
          -logp.gather(1, targets.unsqueeze(1)).to(at::kDouble).sum().item<double>();
    }
  });
  double total_nll = 0;
  for (double v : row_nll) total_nll += v;
  PerplexityResult r;
  r.tokens = n * (len - 1);
  r.windows = n;
  r.mean_nll = total_nll / static_cast<double>(r.tokens);
  r.perplexity = std::exp(r.mean_nll);
  r.bits_per_byte = std::numeric_limits<double>::quiet_NaN();
  return r;
}

PerplexityResult evaluate_perplexity(const Model& model, const std::vector<int64_t>& tokens,
                                     const Tokenizer& tokenizer, const PerplexityOptions& options) {
  return evaluate_perplexity(
      model, tokens, [&tokenizer](int64_t id) { return tokenizer.token_bytes(id); }, options);
}

EvalFn perplexity_evaluator(std::vector<int64_t> tokens, TokenBytesFn token_bytes,
                            PerplexityOptions options,
                            std::function<void(const PerplexityResult&)> on_result) {
  return [tokens = std::move(tokens), token_bytes = std::move(token_bytes), options,
          on_result = std::move(on_result)](const Model& model) {
    auto r = evaluate_perplexity(model, tokens, token_bytes, options);
    if (on_result) on_result(r);
    return r.eval_result();
  };
}

}  // namespace qtune
