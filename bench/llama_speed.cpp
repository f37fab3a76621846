#include "bench/llama_speed.h"

#include <algorithm>

#include "common/error.h"

namespace qtune {

LmSpeed measure_llama_speed(const LlamaModel& model, const std::vector<int64_t>& tokens,
                            const LmSpeedOptions& options) {
  at::NoGradGuard no_grad;
  LlamaKvCache cache;
  const auto ids = [](const std::vector<int64_t>& t) {
    return at::tensor(t, at::kLong).unsqueeze(0);
  };
  LmSession session;
  session.prefill = [&](const std::vector<int64_t>& prompt) {
    cache.clear();
    (void)model.forward_cached(ids(prompt), cache);
  };
  session.decode_step = [&](int64_t token) { (void)model.forward_cached(ids({token}), cache); };
  return measure_lm_speed(session, tokens, options);
}

std::vector<int64_t> repeat_tokens(const std::vector<int64_t>& text, int64_t count) {
  QT_CHECK(!text.empty(), "cannot repeat an empty token sequence to ", count, " tokens");
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(count, 0)));
  for (int64_t i = 0; i < count; ++i) out.push_back(text[static_cast<size_t>(i) % text.size()]);
  return out;
}

}  // namespace qtune
