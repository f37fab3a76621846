#include "tuner/strategies/basic.h"

#include <algorithm>

#include "common/error.h"
#include "tuner/strategies/layer_pattern.h"

namespace qtune {

namespace {

bool passed(const TrialRecord& r) { return r.status == "COMPLETED" && r.passed.value_or(false); }

// The objective alone: what the candidate would be without the accuracy goal.
double objective_value(const TrialRecord& r, const std::string& objective) {
  if (objective == "size" && r.size_bytes) return static_cast<double>(*r.size_bytes);
  if (objective == "latency" && r.latency_ms_p50) return *r.latency_ms_p50;
  return r.accuracy_loss.value_or(0.0);
}

}  // namespace

bool BasicStrategy::is_probe(int64_t index) const {
  return std::find(sensitivity_trial_.begin(), sensitivity_trial_.end(), index) !=
         sensitivity_trial_.end();
}

std::vector<int64_t> BasicStrategy::propose() {
  // A sensitivity trial (one layer quantized) may pass, but it is a probe:
  // only a grid or fallback trial ends the search.
  for (const TrialRecord* r : history())
    if (passed(*r) && !is_probe(r->index)) return {};
  const int64_t left = budget_ - num_proposed();
  if (left <= 0) return {};
  switch (phase_) {
    case Phase::kGrid: {
      phase_ = Phase::kSensitivity;
      grid_size_ = std::min(num_trials(), left);
      std::vector<int64_t> out(static_cast<size_t>(grid_size_));
      for (int64_t i = 0; i < grid_size_; ++i) out[static_cast<size_t>(i)] = i;
      return out;
    }
    case Phase::kSensitivity:
      phase_ = Phase::kFallback;
      return start_sensitivity();
    case Phase::kFallback:
      return next_fallback();
  }
  return {};
}

std::vector<int64_t> BasicStrategy::start_sensitivity() {
  const TrialRecord* best = nullptr;
  for (const TrialRecord* r : history()) {
    if (r->index >= grid_size_ || r->status != "COMPLETED" || !r->accuracy_loss) continue;
    if (!best) {
      best = r;
      continue;
    }
    const double a = objective_value(*r, options_.objective);
    const double b = objective_value(*best, options_.objective);
    if (a < b || (a == b && *r->accuracy_loss < *best->accuracy_loss)) best = r;
  }
  if (!best) return {};
  base_ = current_ = trials()[static_cast<size_t>(best->index)];
  if (best->metrics.contains("layers"))
    for (const auto& l : best->metrics["layers"])
      if (l.value("quantized", false)) layers_.push_back(l.value("name", std::string()));
  std::vector<int64_t> out;
  for (const std::string& alone : layers_) {
    QuantConfig c = base_;
    for (const std::string& other : layers_)
      if (other != alone) c.fp32_layers.push_back(exact_layer_pattern(other));
    const int64_t i = add_config(c);
    sensitivity_trial_.push_back(i);
    out.push_back(i);
  }
  if (static_cast<int64_t>(out.size()) > budget_ - num_proposed()) return {};  // cannot rank
  return out;
}

std::vector<int64_t> BasicStrategy::next_fallback() {
  if (ranked_.empty()) {
    // Most sensitive first: the largest loss with the layer quantized alone; a
    // layer whose trial did not complete cannot be quantized alone at all.
    std::vector<std::pair<double, size_t>> loss;
    for (size_t k = 0; k < layers_.size(); ++k) {
      const auto& f = finished();
      auto it = f.find(sensitivity_trial_[k]);
      const bool ok =
          it != f.end() && it->second.status == "COMPLETED" && it->second.accuracy_loss.has_value();
      loss.emplace_back(ok ? *it->second.accuracy_loss : 1e300, k);
    }
    std::stable_sort(loss.begin(), loss.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [l, k] : loss) ranked_.push_back(layers_[k]);
    to_8bit_ = base_.params.contains("bits") && base_.params["bits"].is_number_integer() &&
               base_.params["bits"].get<int>() < 8;
  }
  const size_t steps = ranked_.size() * (to_8bit_ ? 2 : 1);
  while (step_ < steps) {
    const bool fp32 = !to_8bit_ || step_ >= ranked_.size();
    const std::string& layer = ranked_[step_ % ranked_.size()];
    ++step_;
    if (fp32) {
      current_.fp32_layers.push_back(exact_layer_pattern(layer));
    } else {
      LayerOverride o;
      o.name_regex = exact_layer_pattern(layer);
      o.params = {{"bits", 8}};
      current_.overrides.push_back(o);
    }
    const int64_t i = add_config(current_);
    if (!was_proposed(i)) return {i};
  }
  return {};
}

}  // namespace qtune
