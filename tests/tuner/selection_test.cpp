// Constraint verdicts and best-trial selection, on hand-made trial records.
#include "tuner/selection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qtune {
namespace {

TrialRecord rec(int64_t index, double acc, double p50, int64_t size, bool passed = true,
                const std::string& status = "COMPLETED") {
  TrialRecord t;
  t.id = 100 + index;
  t.index = index;
  t.status = status;
  t.accuracy = acc;
  t.accuracy_loss = 1.0 - acc;  // against a top-1 baseline of 1.0
  t.latency_ms_p50 = p50;
  t.size_bytes = size;
  t.passed = passed;
  return t;
}

int64_t best_index(const std::vector<TrialRecord>& v, const std::string& objective,
                   const std::string& strategy = "exhaustive") {
  auto b = select_best(v, objective, strategy);
  return b ? v[*b].index : -1;
}

TEST(SelectBest, SizeSmallestThenHigherAccuracyThenLowerIndex) {
  EXPECT_EQ(best_index({rec(0, 0.9, 1, 300), rec(1, 0.8, 1, 100), rec(2, 0.95, 1, 200)}, "size"),
            1);
  EXPECT_EQ(best_index({rec(0, 0.8, 1, 100), rec(1, 0.85, 1, 100)}, "size"), 1);
  EXPECT_EQ(best_index({rec(3, 0.8, 1, 100), rec(1, 0.8, 1, 100)}, "size"), 1);
}

TEST(SelectBest, AccuracyHighestThenSmallerSize) {
  EXPECT_EQ(best_index({rec(0, 0.90, 1, 100), rec(1, 0.92, 1, 300)}, "accuracy"), 1);
  EXPECT_EQ(best_index({rec(0, 0.92, 1, 300), rec(1, 0.92, 1, 100)}, "accuracy"), 1);
}

TEST(SelectBest, AccuracyFollowsTheLossSoLowerPerplexityWins) {
  // Perplexity: lower is better; judge_trial's loss is value - baseline.
  TrialRecord a = rec(0, 0, 1, 100), b = rec(1, 0, 1, 100);
  a.accuracy = 12.0;
  a.accuracy_loss = 12.0 - 10.0;
  b.accuracy = 11.0;
  b.accuracy_loss = 11.0 - 10.0;
  EXPECT_EQ(best_index({a, b}, "accuracy"), 1);
  EXPECT_EQ(best_index({b, a}, "accuracy"), 1);
}

TEST(SelectBest, LatencyWithinFivePercentIsATieBrokenBySize) {
  // 10.4 is within 5% of 10.0: tied, and smaller. 12.0 is 20% slower: out, although smallest.
  EXPECT_EQ(best_index({rec(0, 0.9, 10.0, 300), rec(1, 0.9, 10.4, 200), rec(2, 0.9, 12.0, 100)},
                       "latency"),
            1);
  // 10.6 is 6% slower: not tied, the fastest wins although larger.
  EXPECT_EQ(best_index({rec(0, 0.9, 10.0, 300), rec(1, 0.9, 10.6, 200)}, "latency"), 0);
  // Tied latency and size: lower index.
  EXPECT_EQ(best_index({rec(4, 0.9, 10.1, 200), rec(2, 0.9, 10.0, 200)}, "latency"), 2);
}

TEST(SelectBest, OnlyCompletedPassingTrialsCount) {
  EXPECT_EQ(best_index({rec(0, 0.99, 1, 10, false), rec(1, 0.9, 1, 100),
                        rec(2, 0.99, 1, 5, true, "FAILED")},
                       "size"),
            1);
  EXPECT_EQ(best_index({rec(0, 0.99, 1, 10, false)}, "size"), -1);
  EXPECT_EQ(best_index({}, "latency"), -1);
}

TEST(SelectBest, FirstPassTakesLowestPassingIndexWhateverTheObjective) {
  EXPECT_EQ(best_index({rec(5, 0.9, 1, 100), rec(3, 0.8, 9, 900), rec(1, 0.99, 1, 1, false)},
                       "size", "first-pass"),
            3);
}

Json baseline(double v) {
  return {{"metric", "accuracy"}, {"value", v}, {"higher_is_better", true}};
}

TEST(JudgeTrial, RelativeLossIsInc) {
  Constraints c;  // relative, 1%
  // (0.9 - 0.8865) / 0.9 = 0.015
  Verdict v = judge_trial("COMPLETED", 0.8865, 1.0, 100, baseline(0.9), c);
  EXPECT_NEAR(*v.accuracy_loss, 0.015, 1e-12);
  EXPECT_FALSE(v.passed);
  EXPECT_THAT(v.reason, ::testing::HasSubstr("accuracy loss"));
  // Exactly at the limit passes: (0.8 - 0.792) / 0.8 = 0.01.
  EXPECT_TRUE(judge_trial("COMPLETED", 0.792, 1.0, 100, baseline(0.8), c).passed);
  // Better than the baseline: negative loss, passes.
  v = judge_trial("COMPLETED", 0.95, 1.0, 100, baseline(0.9), c);
  EXPECT_LT(*v.accuracy_loss, 0);
  EXPECT_TRUE(v.passed);
  EXPECT_TRUE(v.reason.empty());
}

TEST(JudgeTrial, AbsoluteLossAndLimits) {
  Constraints c;
  c.relative_loss = false;
  c.max_accuracy_loss = 0.02;
  c.max_latency_ms = 5;
  c.max_size_bytes = 1000;
  Verdict v = judge_trial("COMPLETED", 0.885, 4.0, 900, baseline(0.9), c);
  EXPECT_NEAR(*v.accuracy_loss, 0.015, 1e-12);
  EXPECT_TRUE(v.passed);
  v = judge_trial("COMPLETED", 0.885, 6.0, 900, baseline(0.9), c);
  EXPECT_FALSE(v.passed);
  EXPECT_THAT(v.reason, ::testing::HasSubstr("latency p50"));
  v = judge_trial("COMPLETED", 0.885, 4.0, 1001, baseline(0.9), c);
  EXPECT_FALSE(v.passed);
  EXPECT_THAT(v.reason, ::testing::HasSubstr("size 1001 B > 1000 B"));
}

TEST(JudgeTrial, LowerIsBetterMetricFlipsTheSign) {
  Constraints c;
  c.relative_loss = true;
  c.max_accuracy_loss = 0.1;
  const Json ppl = {{"metric", "perplexity"}, {"value", 10.0}, {"higher_is_better", false}};
  Verdict v = judge_trial("COMPLETED", 10.5, 1.0, 1, ppl, c);
  EXPECT_NEAR(*v.accuracy_loss, 0.05, 1e-12);
  EXPECT_TRUE(v.passed);
}

TEST(JudgeTrial, FailedTrialNeverPasses) {
  Verdict v =
      judge_trial("FAILED", std::nullopt, std::nullopt, std::nullopt, baseline(0.9), Constraints{});
  EXPECT_FALSE(v.passed);
  EXPECT_FALSE(v.accuracy_loss);
  v = judge_trial("TIMEOUT", 0.9, 1.0, 1, baseline(0.9), Constraints{});
  EXPECT_FALSE(v.passed);
}

}  // namespace
}  // namespace qtune
