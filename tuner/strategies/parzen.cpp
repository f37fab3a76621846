#include "tuner/strategies/parzen.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"

namespace qtune {

std::vector<double> tpe_default_weights(size_t n) {
  if (n < 25) return std::vector<double>(n, 1.0);
  // numpy.linspace(1 / n, 1.0, n - 25) followed by 25 ones.
  std::vector<double> w(n, 1.0);
  const size_t ramp = n - 25;
  const double lo = 1.0 / static_cast<double>(n);
  for (size_t i = 0; i < ramp; ++i)
    w[i] =
        ramp == 1 ? lo : lo + (1.0 - lo) * static_cast<double>(i) / static_cast<double>(ramp - 1);
  return w;
}

size_t tpe_default_gamma(size_t n) {
  return std::min<size_t>(static_cast<size_t>(std::ceil(0.1 * static_cast<double>(n))), 25);
}

namespace {

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Optuna's univariate bandwidths for `mus` (observations, then the prior's mean last).
std::vector<double> bandwidths(const std::vector<double>& mus, double low, double high) {
  const size_t m = mus.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return mus[a] < mus[b]; });
  std::vector<double> ends(m + 2);
  ends[0] = low - 0.5;
  ends[m + 1] = high + 0.5;
  for (size_t k = 0; k < m; ++k) ends[k + 1] = mus[order[k]];
  std::vector<double> sorted(m);
  for (size_t k = 0; k < m; ++k)
    sorted[k] = std::max(ends[k + 1] - ends[k], ends[k + 2] - ends[k + 1]);
  if (m + 2 >= 4) {  // consider_endpoints=False
    sorted[0] = ends[2] - ends[1];
    sorted[m - 1] = ends[m] - ends[m - 1];
  }
  std::vector<double> sigmas(m);
  for (size_t k = 0; k < m; ++k) sigmas[order[k]] = sorted[k];
  return sigmas;
}

}  // namespace

ParzenEstimator::ParzenEstimator(const ParzenParameter& param, const std::vector<size_t>& observed,
                                 double prior_weight) {
  const size_t nv = param.values.size();
  QT_ASSERT(nv > 0, "a parameter without values");
  const size_t n = observed.size();
  // Kernel weights: the observations', then the prior's; normalized.
  std::vector<double> w = tpe_default_weights(n);
  w.push_back(n == 0 ? 1.0 : prior_weight);
  const double wsum = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x /= wsum;
  pmf_.assign(nv, 0.0);

  if (!param.integer) {
    const double base = prior_weight / static_cast<double>(n + 1);
    for (size_t k = 0; k < n; ++k) {
      const double norm = base * static_cast<double>(nv) + 1.0;
      for (size_t i = 0; i < nv; ++i)
        pmf_[i] += w[k] * (base + (i == observed[k] ? 1.0 : 0.0)) / norm;
    }
    for (size_t i = 0; i < nv; ++i) pmf_[i] += w[n] / static_cast<double>(nv);
    return;
  }

  const auto [lo_it, hi_it] = std::minmax_element(param.values.begin(), param.values.end());
  const double low = *lo_it, high = *hi_it;
  const double range = high - low + 1.0;  // high - low + step
  std::vector<double> mus;
  for (size_t k : observed) mus.push_back(param.values[k]);
  mus.push_back(0.5 * (low + high));
  std::vector<double> sigmas = bandwidths(mus, low, high);
  const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(n) + 1.0);
  for (double& s : sigmas) s = std::clamp(s, min_sigma, range);
  sigmas.back() = range;  // the prior's own sigma
  for (size_t k = 0; k <= n; ++k) {
    const double mu = mus[k], s = sigmas[k];
    const double total = normal_cdf((high + 0.5 - mu) / s) - normal_cdf((low - 0.5 - mu) / s);
    for (size_t i = 0; i < nv; ++i) {
      const double v = param.values[i];
      pmf_[i] += w[k] * (normal_cdf((v + 0.5 - mu) / s) - normal_cdf((v - 0.5 - mu) / s)) / total;
    }
  }
}

}  // namespace qtune
