#include "tuner/strategies/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/error.h"

namespace qtune {

namespace {

// The fields of a config that TPE treats as parameters, with their values.
std::map<std::string, Json> fields(const QuantConfig& c) {
  std::map<std::string, Json> out;
  out["algorithm"] = c.algorithm;
  out["backend"] = c.backend;
  for (const auto& [key, value] : c.params.items()) out[c.algorithm + "." + key] = value;
  const Json j = c.to_json();
  out["overrides"] = j["overrides"].dump();
  out["fp32_layers"] = j["fp32_layers"].dump();
  return out;
}

}  // namespace

TpeStrategy::TpeStrategy(std::vector<QuantConfig> space, const StrategyOptions& options)
    : Strategy(std::move(space), options), rng_(options.seed) {
  // Fields keyed by name; values in order of first appearance in the space.
  std::map<std::string, std::vector<Json>> values;
  std::vector<std::map<std::string, Json>> per_trial;
  for (const auto& c : trials()) {
    per_trial.push_back(fields(c));
    for (const auto& [field, v] : per_trial.back()) {
      auto& vs = values[field];
      if (std::find(vs.begin(), vs.end(), v) == vs.end()) vs.push_back(v);
    }
  }
  for (const auto& [field, vs] : values) {
    Dimension d;
    d.field = field;
    bool present_everywhere = true;
    for (const auto& t : per_trial) present_everywhere = present_everywhere && t.count(field);
    if (vs.size() < 2 && present_everywhere) continue;  // nothing to learn
    d.param.integer = true;
    for (const auto& v : vs) d.param.integer = d.param.integer && v.is_number_integer() && v > 0;
    for (size_t i = 0; i < vs.size(); ++i)
      d.param.values.push_back(d.param.integer ? vs[i].get<double>() : static_cast<double>(i));
    for (const auto& t : per_trial) {
      auto it = t.find(field);
      d.value_of.push_back(
          it == t.end() ? -1 : std::find(vs.begin(), vs.end(), it->second) - vs.begin());
    }
    dims_.push_back(std::move(d));
  }
}

std::vector<int64_t> TpeStrategy::unproposed() const {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < num_trials(); ++i)
    if (!was_proposed(i)) out.push_back(i);
  return out;
}

std::vector<int64_t> TpeStrategy::propose() {
  std::vector<int64_t> pool = unproposed();
  const int64_t left = std::min<int64_t>(budget_ - num_proposed(), pool.size());
  if (left <= 0) return {};
  std::vector<int64_t> out;
  if (num_proposed() < kStartupTrials) {
    rng_.shuffle(pool);
    pool.resize(static_cast<size_t>(std::min(left, kStartupTrials - num_proposed())));
    return pool;
  }

  // Split the history: the gamma(n) best (ties: the earlier proposal) and the rest.
  const auto& h = history();
  std::vector<size_t> order(h.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return score_trial(*h[a], options_.objective) < score_trial(*h[b], options_.objective);
  });
  const size_t n_below = tpe_default_gamma(h.size());
  std::vector<bool> is_below(h.size(), false);
  for (size_t k = 0; k < n_below && k < order.size(); ++k) is_below[order[k]] = true;

  std::vector<ParzenEstimator> below, above;
  for (const auto& d : dims_) {
    // Observations oldest first: the weights ramp by age.
    std::vector<size_t> obs_below, obs_above;
    for (size_t k = 0; k < h.size(); ++k) {
      const int64_t v = d.value_of[static_cast<size_t>(h[k]->index)];
      if (v < 0) continue;
      (is_below[k] ? obs_below : obs_above).push_back(static_cast<size_t>(v));
    }
    below.emplace_back(d.param, obs_below, kPriorWeight);
    above.emplace_back(d.param, obs_above, kPriorWeight);
  }
  for (int64_t k = 0; k < std::min(left, kGeneration); ++k) {
    const int64_t chosen = pick(pool, below, above);
    out.push_back(chosen);
    pool.erase(std::find(pool.begin(), pool.end(), chosen));
  }
  return out;
}

int64_t TpeStrategy::pick(const std::vector<int64_t>& pool,
                          const std::vector<ParzenEstimator>& below,
                          const std::vector<ParzenEstimator>& above) {
  QT_ASSERT(!pool.empty(), "TPE asked to pick from no config");
  std::vector<double> l(pool.size(), 1.0), log_ratio(pool.size(), 0.0);
  for (size_t c = 0; c < pool.size(); ++c) {
    for (size_t d = 0; d < dims_.size(); ++d) {
      const int64_t v = dims_[d].value_of[static_cast<size_t>(pool[c])];
      if (v < 0) continue;
      const double lb = below[d].pmf(static_cast<size_t>(v));
      const double ab = above[d].pmf(static_cast<size_t>(v));
      l[c] *= lb;
      log_ratio[c] += std::log(lb) - std::log(ab);
    }
  }
  size_t best = 0;
  double best_ratio = -std::numeric_limits<double>::infinity();
  for (int k = 0; k < kCandidates; ++k) {
    const size_t c = rng_.weighted(l);
    if (log_ratio[c] > best_ratio) best_ratio = log_ratio[c], best = c;
  }
  return pool[best];
}

}  // namespace qtune
