// The latency harness the tuner uses: warm-up runs discarded, then at least
// `min_runs` timed runs (and at least `min_seconds`), reporting percentiles
// and the spread, so a trial's latency is comparable across trials.
#pragma once

#include <functional>
#include <vector>

#include "common/json.h"

namespace qtune {

struct LatencyOptions {
  int warmup_runs = 3;
  int min_runs = 20;
  double min_seconds = 0.2;
  int max_runs = 1000;
};

struct LatencyStats {
  int runs = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, mean_ms = 0, min_ms = 0, max_ms = 0;
  double stddev_ms = 0;  ///< sample standard deviation
  double spread = 0;     ///< (p90 - p50) / p50: how noisy the measurement was
  /// {"runs", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_mean",
  ///  "latency_ms_min", "latency_ms_max", "latency_ms_stddev", "latency_spread"}
  Json to_json() const;
};

/// Times `fn` per the options: `warmup_runs` untimed calls, then timed calls
/// until both `min_runs` and `min_seconds` are reached, never more than
/// `max_runs`. Percentiles as in percentile().
LatencyStats measure_latency(const std::function<void()>& fn, const LatencyOptions& options = {});

/// Statistics over samples already taken (milliseconds); at least one sample.
LatencyStats stats_from_samples(const std::vector<double>& samples_ms);

/// Percentile (0..100) of samples by linear interpolation; samples need not be sorted.
double percentile(std::vector<double> samples, double pct);

}  // namespace qtune
