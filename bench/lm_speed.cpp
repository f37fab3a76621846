#include "bench/lm_speed.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "common/error.h"

namespace qtune {

Json LmSpeed::to_json() const {
  return Json{{"prompt_tokens", prompt_tokens},
              {"new_tokens", new_tokens},
              {"runs", runs},
              {"prefill_tokens_per_s", prefill_tokens_per_s},
              {"decode_tokens_per_s", decode_tokens_per_s},
              {"prefill", prefill.to_json()},
              {"decode", decode.runs > 0 ? decode.to_json() : Json()}};
}

LmSpeed measure_lm_speed(const LmSession& session, const std::vector<int64_t>& tokens,
                         const LmSpeedOptions& o) {
  QT_CHECK(o.prompt_tokens >= 1, "LM speed: prompt tokens must be >= 1, got ", o.prompt_tokens);
  QT_CHECK(o.new_tokens >= 0, "LM speed: new tokens must be >= 0, got ", o.new_tokens);
  QT_CHECK(o.warmup_runs >= 0, "LM speed: warm-up runs must be >= 0, got ", o.warmup_runs);
  QT_CHECK(o.min_runs >= 1, "LM speed: runs must be >= 1, got ", o.min_runs);
  QT_CHECK(o.min_decode_steps >= 0 && (o.min_decode_steps == 0 || o.new_tokens > 0),
           "LM speed: min decode steps must be >= 0 and need new tokens, got ", o.min_decode_steps,
           " with ", o.new_tokens, " new tokens");
  QT_CHECK(static_cast<int64_t>(tokens.size()) >= o.prompt_tokens + o.new_tokens,
           "LM speed: ", tokens.size(), " tokens given, ", o.prompt_tokens, " prompt + ",
           o.new_tokens, " new ones needed");
  QT_ASSERT(session.prefill && (o.new_tokens == 0 || session.decode_step),
            "LM speed: the session lacks a callback");
  using Clock = std::chrono::steady_clock;
  const auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  const std::vector<int64_t> prompt(tokens.begin(), tokens.begin() + o.prompt_tokens);
  std::vector<double> prefill_ms, decode_ms;
  const auto sequence = [&](bool timed) {
    const auto t0 = Clock::now();
    session.prefill(prompt);
    const auto t1 = Clock::now();
    if (timed) prefill_ms.push_back(ms(t0, t1));
    // A warm-up sequence takes one decode step: that touches every weight and
    // the cache; 64 more would cost a 1B model minutes on a small machine.
    const int64_t steps = timed ? o.new_tokens : std::min<int64_t>(o.new_tokens, 1);
    for (int64_t i = 0; i < steps; ++i) {
      const auto s0 = Clock::now();
      session.decode_step(tokens[o.prompt_tokens + i]);
      const auto s1 = Clock::now();
      if (timed) decode_ms.push_back(ms(s0, s1));
    }
  };
  for (int i = 0; i < o.warmup_runs; ++i) sequence(false);
  LmSpeed out;
  out.prompt_tokens = o.prompt_tokens;
  out.new_tokens = o.new_tokens;
  while (out.runs < o.min_runs || static_cast<int64_t>(decode_ms.size()) < o.min_decode_steps) {
    sequence(true);
    ++out.runs;
  }
  const auto sum = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0);
  };
  out.prefill = stats_from_samples(prefill_ms);
  out.prefill_tokens_per_s = 1000.0 * o.prompt_tokens * out.runs / sum(prefill_ms);
  if (!decode_ms.empty()) {
    out.decode = stats_from_samples(decode_ms);
    out.decode_tokens_per_s = 1000.0 * static_cast<double>(decode_ms.size()) / sum(decode_ms);
  }
  return out;
}

}  // namespace qtune
