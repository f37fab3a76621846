// One parameter's Parzen estimator, as Optuna's TPE sampler builds it in its
// default (independent, univariate) mode: a mixture with one kernel per
// observation, weighted by Optuna's default_weights (flat for the last 25
// observations, a ramp down before them), plus a prior kernel of weight
// prior_weight.
//  - categorical: an observation's kernel puts prior_weight / (n + 1) on every
//    choice and 1 more on the observed one, normalized; the prior is uniform.
//  - integer (step 1): a truncated normal discretized to [v - 0.5, v + 0.5]
//    on [low - 0.5, high + 0.5]; each sigma is the larger gap to its sorted
//    neighbours (the prior's mean among them, the range ends as outer
//    neighbours, the two outermost taking their inner gap), clipped to
//    [range / min(100, n + 2), range]; the prior is centred, sigma = range.
#pragma once

#include <cstdint>
#include <vector>

namespace qtune {

struct ParzenParameter {
  /// The parameter's values; for an integer parameter, the integers themselves.
  std::vector<double> values;
  bool integer = false;  ///< else categorical: values are only told apart
};

/// Optuna's default_weights(n).
std::vector<double> tpe_default_weights(size_t n);
/// Optuna's default gamma(n) = min(ceil(0.1 n), 25): how many trials are "good".
size_t tpe_default_gamma(size_t n);

class ParzenEstimator {
 public:
  /// `observed` holds indices into param.values, oldest first.
  ParzenEstimator(const ParzenParameter& param, const std::vector<size_t>& observed,
                  double prior_weight = 1.0);
  /// Probability mass of param.values[i].
  double pmf(size_t i) const { return pmf_[i]; }

 private:
  std::vector<double> pmf_;
};

}  // namespace qtune
