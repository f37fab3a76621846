#include "bench/latency.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "common/error.h"

namespace qtune {

Json LatencyStats::to_json() const {
  Json j;
  j["runs"] = runs;
  j["latency_ms_p50"] = p50_ms;
  j["latency_ms_p90"] = p90_ms;
  j["latency_ms_p99"] = p99_ms;
  j["latency_ms_mean"] = mean_ms;
  j["latency_ms_min"] = min_ms;
  j["latency_ms_max"] = max_ms;
  j["latency_ms_stddev"] = stddev_ms;
  j["latency_spread"] = spread;
  return j;
}

double percentile(std::vector<double> samples, double pct) {
  QT_CHECK(!samples.empty(), "percentile of an empty sample set");
  QT_CHECK(pct >= 0 && pct <= 100, "percentile must be in [0, 100], got ", pct);
  std::sort(samples.begin(), samples.end());
  // Linear interpolation between closest ranks (numpy's default), so p50 of
  // an even-sized set is the mean of the two middle samples.
  const double rank = pct / 100.0 * static_cast<double>(samples.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, samples.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return samples[lo] + (samples[hi] - samples[lo]) * frac;
}

LatencyStats stats_from_samples(const std::vector<double>& samples_ms) {
  QT_CHECK(!samples_ms.empty(), "latency statistics need at least one sample");
  LatencyStats s;
  s.runs = static_cast<int>(samples_ms.size());
  s.p50_ms = percentile(samples_ms, 50);
  s.p90_ms = percentile(samples_ms, 90);
  s.p99_ms = percentile(samples_ms, 99);
  s.min_ms = *std::min_element(samples_ms.begin(), samples_ms.end());
  s.max_ms = *std::max_element(samples_ms.begin(), samples_ms.end());
  s.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / samples_ms.size();
  double var = 0;
  for (double x : samples_ms) var += (x - s.mean_ms) * (x - s.mean_ms);
  s.stddev_ms = samples_ms.size() > 1 ? std::sqrt(var / (samples_ms.size() - 1)) : 0.0;
  s.spread = s.p50_ms > 0 ? (s.p90_ms - s.p50_ms) / s.p50_ms : 0.0;
  return s;
}

LatencyStats measure_latency(const std::function<void()>& fn, const LatencyOptions& options) {
  QT_CHECK(options.warmup_runs >= 0, "latency warmup runs must be >= 0, got ", options.warmup_runs);
  QT_CHECK(options.min_runs >= 1, "latency runs must be >= 1, got ", options.min_runs);
  QT_CHECK(options.max_runs >= options.min_runs, "latency max_runs (", options.max_runs,
           ") must be >= min_runs (", options.min_runs, ")");
  using Clock = std::chrono::steady_clock;
  // Warm-up runs pay for first-touch allocations, lazy init and cold caches.
  for (int i = 0; i < options.warmup_runs; ++i) fn();
  std::vector<double> samples;
  samples.reserve(options.min_runs);
  const auto start = Clock::now();
  while (static_cast<int>(samples.size()) < options.max_runs) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (static_cast<int>(samples.size()) >= options.min_runs && elapsed >= options.min_seconds)
      break;
    const auto t0 = Clock::now();
    fn();
    const auto t1 = Clock::now();
    samples.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return stats_from_samples(samples);
}

}  // namespace qtune
