#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "bench/latency.h"
#include "common/error.h"

namespace qtune {
namespace {

// Worked by hand: sorted {1,2,3,4}; rank = p/100 * 3.
TEST(Percentile, LinearInterpolationOnHandWorkedSamples) {
  const std::vector<double> s{4, 1, 3, 2};  // unsorted on purpose
  EXPECT_DOUBLE_EQ(percentile(s, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(s, 50), 2.5);  // rank 1.5
  EXPECT_DOUBLE_EQ(percentile(s, 90), 3.7);  // rank 2.7
  EXPECT_DOUBLE_EQ(percentile(s, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5}, 25), 2.0);  // rank 1, exact sample
  EXPECT_DOUBLE_EQ(percentile({10, 20}, 75), 17.5);        // rank 0.75
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7.0);
}

TEST(Percentile, RejectsEmptyAndOutOfRange) {
  EXPECT_THROW(percentile({}, 50), Error);
  EXPECT_THROW(percentile({1, 2}, 101), Error);
  EXPECT_THROW(percentile({1, 2}, -1), Error);
}

TEST(LatencyStats, FromHandWorkedSamples) {
  const LatencyStats s = stats_from_samples({1, 2, 3, 4});
  EXPECT_EQ(s.runs, 4);
  EXPECT_DOUBLE_EQ(s.p50_ms, 2.5);
  EXPECT_DOUBLE_EQ(s.p90_ms, 3.7);
  EXPECT_DOUBLE_EQ(s.mean_ms, 2.5);
  EXPECT_DOUBLE_EQ(s.min_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 4.0);
  EXPECT_NEAR(s.stddev_ms, std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_NEAR(s.spread, (3.7 - 2.5) / 2.5, 1e-12);
  const Json j = s.to_json();
  EXPECT_EQ(j.at("runs"), 4);
  EXPECT_DOUBLE_EQ(j.at("latency_ms_p50").get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(j.at("latency_spread").get<double>(), s.spread);
}

TEST(MeasureLatency, WarmupDiscardedAndMinRunsRespected) {
  int calls = 0;
  LatencyOptions o;
  o.warmup_runs = 3;
  o.min_runs = 5;
  o.min_seconds = 0;
  const LatencyStats s = measure_latency([&] { ++calls; }, o);
  EXPECT_EQ(calls, 8);  // 3 warm-up + 5 timed
  EXPECT_EQ(s.runs, 5);
}

TEST(MeasureLatency, MaxRunsCapsAMinSecondsThatIsNeverReached) {
  int calls = 0;
  LatencyOptions o;
  o.warmup_runs = 0;
  o.min_runs = 2;
  o.min_seconds = 1e9;
  o.max_runs = 7;
  const LatencyStats s = measure_latency([&] { ++calls; }, o);
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(s.runs, 7);
}

TEST(MeasureLatency, SamplesAreAtLeastTheSleptTime) {
  LatencyOptions o;
  o.warmup_runs = 1;
  o.min_runs = 3;
  o.min_seconds = 0;
  // sleep_for never returns early, so every sample is >= 2 ms: a lower bound, not a timing race.
  const LatencyStats s =
      measure_latency([] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }, o);
  EXPECT_EQ(s.runs, 3);
  EXPECT_GE(s.min_ms, 2.0);
  EXPECT_LE(s.min_ms, s.p50_ms);
  EXPECT_LE(s.p50_ms, s.p90_ms);
}

TEST(MeasureLatency, RejectsBadOptions) {
  LatencyOptions o;
  o.min_runs = 0;
  EXPECT_THROW(measure_latency([] {}, o), Error);
  o.min_runs = 10;
  o.max_runs = 5;
  EXPECT_THROW(measure_latency([] {}, o), Error);
}

}  // namespace
}  // namespace qtune
