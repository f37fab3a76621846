// measure_lm_speed with callbacks that record what they are fed: the order of
// sequences and tokens, the counts of runs and samples, and tokens/s as the
// timed tokens over the summed time (checked against the reported means).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "bench/lm_speed.h"
#include "common/error.h"

namespace qtune {
namespace {

using ::testing::HasSubstr;

struct Recorder {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<int64_t> steps;
  LmSession session() {
    LmSession s;
    // A short sleep: every sample is > 0, so tokens/s is finite.
    s.prefill = [this](const std::vector<int64_t>& p) {
      prompts.push_back(p);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    };
    s.decode_step = [this](int64_t t) {
      steps.push_back(t);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    };
    return s;
  }
};

const std::vector<int64_t> kText{10, 11, 12, 13, 14, 15, 16};

TEST(LmSpeed, RunsWarmupThenTimedSequencesOnTheSameText) {
  Recorder rec;
  LmSpeedOptions o;
  o.prompt_tokens = 3;
  o.new_tokens = 2;
  o.warmup_runs = 1;
  o.min_runs = 2;
  const LmSpeed s = measure_lm_speed(rec.session(), kText, o);
  ASSERT_EQ(rec.prompts.size(), 3u);  // 1 warm-up + 2 timed
  for (const auto& p : rec.prompts) EXPECT_EQ(p, (std::vector<int64_t>{10, 11, 12}));
  // The warm-up sequence takes one decode step; timed ones all of theirs.
  EXPECT_EQ(rec.steps, (std::vector<int64_t>{13, 13, 14, 13, 14}));
  EXPECT_EQ(s.runs, 2);
  EXPECT_EQ(s.prompt_tokens, 3);
  EXPECT_EQ(s.new_tokens, 2);
  EXPECT_EQ(s.prefill.runs, 2);  // warm-up not timed
  EXPECT_EQ(s.decode.runs, 4);
  EXPECT_GT(s.prefill.min_ms, 0.0);
  EXPECT_GT(s.decode.min_ms, 0.0);
  // tokens/s = timed tokens / summed time = tokens per sample / mean sample time.
  EXPECT_NEAR(s.prefill_tokens_per_s, 1000.0 * 3 / s.prefill.mean_ms,
              1e-9 * s.prefill_tokens_per_s);
  EXPECT_NEAR(s.decode_tokens_per_s, 1000.0 / s.decode.mean_ms, 1e-9 * s.decode_tokens_per_s);
  const Json j = s.to_json();
  EXPECT_EQ(j["prompt_tokens"], 3);
  EXPECT_EQ(j["decode"]["runs"], 4);
}

TEST(LmSpeed, MinDecodeStepsAddsWholeSequences) {
  Recorder rec;
  LmSpeedOptions o;
  o.prompt_tokens = 2;
  o.new_tokens = 4;
  o.warmup_runs = 0;
  o.min_runs = 1;
  o.min_decode_steps = 9;  // 3 sequences of 4 steps
  const LmSpeed s = measure_lm_speed(rec.session(), kText, o);
  EXPECT_EQ(s.runs, 3);
  EXPECT_EQ(s.decode.runs, 12);
  EXPECT_EQ(rec.prompts.size(), 3u);
}

TEST(LmSpeed, PrefillOnlyNeverDecodes) {
  Recorder rec;
  LmSpeedOptions o;
  o.prompt_tokens = 7;  // the whole text
  o.new_tokens = 0;
  o.warmup_runs = 2;
  o.min_runs = 5;
  LmSession session = rec.session();
  session.decode_step = nullptr;
  const LmSpeed s = measure_lm_speed(session, kText, o);
  EXPECT_EQ(rec.prompts.size(), 7u);
  EXPECT_EQ(s.prefill.runs, 5);
  EXPECT_EQ(s.decode.runs, 0);
  EXPECT_EQ(s.decode_tokens_per_s, 0.0);
  EXPECT_TRUE(s.to_json()["decode"].is_null());
}

TEST(LmSpeed, BadOptionsAreErrors) {
  Recorder rec;
  LmSpeedOptions o;
  o.prompt_tokens = 5;
  o.new_tokens = 3;
  try {
    measure_lm_speed(rec.session(), kText, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "LM speed: 7 tokens given, 5 prompt + 3 new ones needed");
  }
  o.prompt_tokens = 0;
  EXPECT_THROW(measure_lm_speed(rec.session(), kText, o), Error);
  o.prompt_tokens = 2;
  o.min_runs = 0;
  EXPECT_THROW(measure_lm_speed(rec.session(), kText, o), Error);
  o.min_runs = 1;
  o.new_tokens = 0;
  o.min_decode_steps = 4;
  EXPECT_THAT([&] { measure_lm_speed(rec.session(), kText, o); },
              ::testing::ThrowsMessage<Error>(HasSubstr("need new tokens")));
  EXPECT_TRUE(rec.prompts.empty()) << "nothing runs before the options are checked";
}

}  // namespace
}  // namespace qtune
