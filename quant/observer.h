// Activation observers: turn the values a layer sees during calibration into a
// clipping range and per-tensor int8 parameters (static PTQ, SmoothQuant, QAT).
//
//   minmax          the exact min and max seen (torch MinMaxObserver)
//   moving_average  min/max of each batch averaged with constant c:
//                   m <- m + c * (batch_m - m), the first batch sets m
//                   (torch MovingAverageMinMaxObserver, c = 0.01)
//   percentile      drops (100 - p) / 2 percent of the values at each tail
//                   of the histogram (ONNX Runtime's percentile, p = 99.999)
//   kl              TensorRT's entropy calibration: the |x| threshold whose
//                   quantized distribution is closest (KL divergence) to the
//                   observed one
//   mse             the range r * [min, max], r in 1.00, 0.99, .., 0.01, that
//                   minimises the expected squared quantization error
//
// Histogram methods keep 2 * bins counts over [-m, m], m = the largest |x| seen
// so far; when a batch widens m the old counts are spread over the new bins in
// proportion to overlap (values assumed uniform within a bin).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace qtune {

enum class ObserverKind { kMinMax, kMovingAverage, kPercentile, kKl, kMse };

/// "minmax" | "moving_average" | "percentile" | "kl" | "mse", else qtune::Error.
ObserverKind observer_kind_from_string(const std::string& s);
std::string to_string(ObserverKind k);
/// The names above, in that order (for parameter schemas).
std::vector<std::string> observer_kind_names();

/// Per-tensor activation parameters, as int8 backends consume them.
struct ActParams {
  float scale = 1.0f;      ///< real value of one step
  int32_t zero_point = 0;  ///< u8: code of 0.0 in 0..255; s8: always 0
  bool is_signed = false;  ///< s8 symmetric [-128, 127] instead of u8 asymmetric [0, 255]
};

/// Parameters for the clipping range [lo, hi]:
///   u8 asym: the range is widened to contain 0, scale = (hi - lo) / 255,
///            zero_point = clamp(round(-lo / scale), 0, 255)
///   s8 sym:  scale = max(|lo|, |hi|) / 127, zero_point 0
/// An empty range (all zeros) gets scale 1 so nothing divides by zero.
ActParams act_params_from_range(double lo, double hi, bool sym);

/// quantize then dequantize `x` with `p` (round half to even, clamp to the code range).
at::Tensor fake_quantize_activation(const at::Tensor& x, const ActParams& p);

struct ObserverOptions {
  ObserverKind kind = ObserverKind::kMinMax;
  bool sym = false;                  ///< s8 symmetric target (else u8 asymmetric)
  double averaging_constant = 0.01;  ///< moving_average only
  double percentile = 99.999;        ///< percentile only, in (0, 100]
  int64_t bins = 2048;               ///< histogram bins per sign (|x| resolution)
};

class Observer {
 public:
  explicit Observer(ObserverOptions options = {});

  /// Adds the values of one batch (any shape, float).
  void observe(const at::Tensor& x);
  /// Number of values observed so far.
  int64_t count() const { return count_; }

  /// The clipping range the method chooses; qtune::Error if nothing was observed.
  std::pair<double, double> range() const;
  ActParams params() const {
    return act_params_from_range(range().first, range().second, opts_.sym);
  }

  /// Exact extremes seen (all methods track them).
  double min() const { return min_; }
  double max() const { return max_; }
  /// Histogram counts over [-edge(), edge()], 2 * bins entries (histogram methods only).
  const std::vector<double>& histogram() const { return hist_; }
  double edge() const { return edge_; }

 private:
  void add_to_histogram(const at::Tensor& x);
  std::pair<double, double> percentile_range() const;
  std::pair<double, double> kl_range() const;
  std::pair<double, double> mse_range() const;

  ObserverOptions opts_;
  int64_t count_ = 0;
  double min_ = 0, max_ = 0;          ///< exact extremes
  double avg_min_ = 0, avg_max_ = 0;  ///< moving averages
  std::vector<double> hist_;          ///< 2 * bins counts over [-edge_, edge_]
  double edge_ = 0;
};

/// TensorRT's KL threshold search on a histogram of |x| (`abs_hist[i]` counts
/// values in [i w, (i+1) w)): for every candidate i from `levels` to the number
/// of bins, the first i bins (the tail folded into the last one) are compared
/// with their `levels`-level quantization; returns the i with the smallest
/// divergence, i.e. the threshold is i * w. Exposed for tests.
int64_t kl_threshold_bins(const std::vector<double>& abs_hist, int64_t levels);

}  // namespace qtune
