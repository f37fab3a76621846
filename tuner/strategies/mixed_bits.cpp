#include "tuner/strategies/mixed_bits.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/error.h"
#include "tuner/strategies/bit_allocation.h"
#include "tuner/strategies/layer_pattern.h"

namespace qtune {

namespace {

bool completed(const TrialRecord* r) {
  return r && r->status == "COMPLETED" && r->accuracy_loss.has_value();
}

}  // namespace

MixedBitsStrategy::MixedBitsStrategy(std::vector<QuantConfig> space, const StrategyOptions& options)
    : Strategy(std::move(space), options), candidates_left_(options.max_trials) {
  QT_CHECK(num_trials() > 0, "strategy mixed-bits: the search space is empty");
  QT_CHECK(options.max_bits_per_weight || options.max_size_bytes,
           "strategy mixed-bits needs a budget: constraints.max_bits_per_weight or "
           "constraints.max_size_bytes, got neither");
  base_ = trials().front();
  QT_CHECK(base_.params.contains("bits"), "strategy mixed-bits: algorithm ", base_.algorithm,
           " has no bits parameter to allocate");
  widths_ = widths_option(options.params);
  fractions_ = budgets_option(options.params);
  probe_on_ = probe_data_option(options.params);
  QT_CHECK(!widths_.empty(), "strategy mixed-bits: widths is empty");
  for (const Width& w : widths_)
    QT_CHECK(!w.group_size || base_.params.contains("group_size"), "strategy mixed-bits: a width ",
             "with a group size needs the base config (", base_.algorithm,
             ") to set group_size, so that the other widths' group is known");
  QT_CHECK(!fractions_.empty(), "strategy mixed-bits: budgets is empty");
}

std::vector<MixedBitsStrategy::Width> MixedBitsStrategy::widths_option(const Json& params) {
  if (!params.contains("widths")) return {{2, {}}, {3, {}}, {4, {}}, {8, {}}};
  std::vector<Width> out;
  for (const Json& w : params["widths"]) {
    if (w.is_object())
      out.push_back({w.at("bits").get<int>(), w.at("group_size").get<int64_t>()});
    else
      out.push_back({w.get<int>(), {}});
  }
  return out;
}

std::vector<double> MixedBitsStrategy::budgets_option(const Json& params) {
  return params.contains("budgets") ? params["budgets"].get<std::vector<double>>()
                                    : std::vector<double>{1.0, 0.97, 0.94, 0.91};
}

ScoredOn MixedBitsStrategy::probe_data_option(const Json& params) {
  return params.contains("probe_data")
             ? scored_on_from_name(params["probe_data"].get<std::string>())
             : ScoredOn::kCalibration;
}

const TrialRecord* MixedBitsStrategy::result(int64_t index) const {
  auto it = finished().find(index);
  return it == finished().end() ? nullptr : &it->second;
}

std::optional<double> MixedBitsStrategy::probe_loss(int64_t index) const {
  const TrialRecord* r = result(index);
  if (!r || r->status != "COMPLETED") return std::nullopt;
  // A one-layer model's probes are its uniform trials, scored on the evaluation set.
  if (!probes_.count(index) || probe_on_ == ScoredOn::kEvaluation) return r->accuracy_loss;
  const TrialRecord* ref = reference_ >= 0 ? result(reference_) : nullptr;
  if (!ref || ref->status != "COMPLETED" || !ref->accuracy || !r->accuracy) return std::nullopt;
  const double base = *ref->accuracy;
  const double diff =
      r->metrics.value("higher_is_better", true) ? base - *r->accuracy : *r->accuracy - base;
  return base != 0 ? diff / std::fabs(base) : diff;
}

QuantConfig MixedBitsStrategy::at_width(const Width& w) const {
  QuantConfig c = base_;
  c.params["bits"] = w.bits;
  if (w.group_size) c.params["group_size"] = *w.group_size;
  return c;
}

Json MixedBitsStrategy::group_of(const Width& w) const {
  if (w.group_size) return *w.group_size;
  return base_.params.contains("group_size") ? base_.params["group_size"] : Json();
}

std::vector<int64_t> MixedBitsStrategy::propose() {
  switch (phase_) {
    case Phase::kUniform:
      phase_ = Phase::kProbes;
      return propose_uniform();
    case Phase::kProbes:
      phase_ = Phase::kAllocate;
      return propose_probes();
    case Phase::kAllocate:
      phase_ = Phase::kDone;
      return propose_allocations();
    case Phase::kDone:
      return {};
  }
  return {};
}

std::vector<int64_t> MixedBitsStrategy::propose_uniform() {
  std::vector<int64_t> out;
  for (const Width& w : widths_) {
    if (candidates_left_ <= 0) {
      uniform_.push_back(-1);
      continue;
    }
    const int64_t i = add_config(at_width(w));
    uniform_.push_back(i);
    if (std::find(out.begin(), out.end(), i) == out.end()) {
      out.push_back(i);
      --candidates_left_;
    }
  }
  return out;
}

std::vector<int64_t> MixedBitsStrategy::propose_probes() {
  // The layers, their weight counts and what the rest of the model stores,
  // from the first uniform trial that completed (they do not depend on the width).
  const TrialRecord* ref = nullptr;
  for (int64_t u : uniform_)
    if (!ref && u >= 0 && completed(result(u)) && result(u)->size_bytes &&
        result(u)->metrics.contains("layers"))
      ref = result(u);
  if (!ref) return {};
  int64_t quantized_bytes = 0;
  for (const Json& l : ref->metrics["layers"]) {
    if (!l.value("quantized", false) || !l.contains("weight_bytes")) continue;
    layers_.push_back(l.value("name", std::string()));
    weights_.push_back(l.value("weights", int64_t{0}));
    quantized_bytes += l["weight_bytes"].get<int64_t>();
  }
  other_bytes_ = *ref->size_bytes - quantized_bytes;

  std::map<std::string, size_t> layer_pos;
  for (size_t l = 0; l < layers_.size(); ++l) layer_pos[layers_[l]] = l;
  bytes_of_.assign(layers_.size(), std::vector<int64_t>(widths_.size(), -1));
  probe_of_.assign(layers_.size(), std::vector<int64_t>(widths_.size(), -1));
  for (size_t w = 0; w < widths_.size(); ++w) {
    const TrialRecord* r = uniform_[w] >= 0 ? result(uniform_[w]) : nullptr;
    if (!completed(r) || !r->metrics.contains("layers")) continue;
    for (const Json& l : r->metrics["layers"]) {
      auto it = layer_pos.find(l.value("name", std::string()));
      if (it != layer_pos.end() && l.value("quantized", false) && l.contains("weight_bytes"))
        bytes_of_[it->second][w] = l["weight_bytes"].get<int64_t>();
    }
  }

  std::vector<int64_t> out;
  if (probe_on_ == ScoredOn::kCalibration && layers_.size() > 1) {
    QuantConfig all_fp32 = base_;
    for (const std::string& layer : layers_)
      all_fp32.fp32_layers.push_back(exact_layer_pattern(layer));
    reference_ = add_config(all_fp32);
    probes_.insert(reference_);
    out.push_back(reference_);
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (size_t w = 0; w < widths_.size(); ++w) {
      if (bytes_of_[l][w] < 0) continue;
      QuantConfig c = at_width(widths_[w]);
      for (const std::string& other : layers_)
        if (other != layers_[l]) c.fp32_layers.push_back(exact_layer_pattern(other));
      const int64_t i = add_config(c);
      probe_of_[l][w] = i;
      // With one layer the probe is the uniform trial itself: a candidate, measured already.
      if (std::find(uniform_.begin(), uniform_.end(), i) != uniform_.end()) continue;
      probes_.insert(i);
      out.push_back(i);
    }
  }
  return out;
}

std::vector<int64_t> MixedBitsStrategy::propose_allocations() {
  std::vector<std::vector<AllocationOption>> options;
  std::vector<std::vector<size_t>> width_of;  ///< per allocated layer: option -> width position
  std::vector<size_t> allocated;              ///< layer positions that have options
  std::vector<std::string> kept_fp32;
  int64_t fp32_bytes = 0, weights = 0;
  for (size_t l = 0; l < layers_.size(); ++l) {
    std::vector<AllocationOption> opts;
    std::vector<size_t> ws;
    for (size_t w = 0; w < widths_.size(); ++w) {
      const std::optional<double> loss =
          probe_of_[l][w] >= 0 ? probe_loss(probe_of_[l][w]) : std::nullopt;
      if (!loss || bytes_of_[l][w] < 0) continue;
      opts.push_back({bytes_of_[l][w] * 8, *loss});
      ws.push_back(w);
    }
    if (opts.empty()) {
      kept_fp32.push_back(layers_[l]);
      fp32_bytes += weights_[l] * 4;
      continue;
    }
    options.push_back(std::move(opts));
    width_of.push_back(std::move(ws));
    allocated.push_back(l);
    weights += weights_[l];
  }
  if (allocated.empty()) return {};

  // The budget for the allocated layers' stored bits: the tighter target.
  std::optional<double> target;
  if (options_.max_bits_per_weight) target = *options_.max_bits_per_weight * weights;
  if (options_.max_size_bytes) {
    const double bits =
        static_cast<double>(*options_.max_size_bytes - other_bytes_ - fp32_bytes) * 8;
    target = target ? std::min(*target, bits) : bits;
  }
  const BitAllocator solver(std::move(options));

  std::vector<int64_t> out;
  for (double f : fractions_) {
    if (candidates_left_ <= 0) break;
    // The small epsilon keeps a product that should be whole (3.5 x an even
    // count) from rounding down across it.
    const auto budget = static_cast<int64_t>(std::floor(*target * f + 1e-6));
    const auto a = solver.solve(budget);
    if (!a) continue;
    // The width most layers take is the block's bits; the others are overrides
    // (so an all-one-width assignment is that uniform trial, not a new one).
    std::vector<int64_t> count(widths_.size(), 0);
    for (size_t k = 0; k < allocated.size(); ++k) ++count[width_of[k][a->choice[k]]];
    const size_t common =
        static_cast<size_t>(std::max_element(count.begin(), count.end()) - count.begin());
    QuantConfig c = at_width(widths_[common]);
    for (size_t k = 0; k < allocated.size(); ++k) {
      const size_t w = width_of[k][a->choice[k]];
      if (w == common) continue;
      LayerOverride o;
      o.name_regex = exact_layer_pattern(layers_[allocated[k]]);
      o.params = {{"bits", widths_[w].bits}};
      if (group_of(widths_[w]) != group_of(widths_[common]))
        o.params["group_size"] = group_of(widths_[w]);
      c.overrides.push_back(o);
    }
    for (const std::string& name : kept_fp32) c.fp32_layers.push_back(exact_layer_pattern(name));
    const int64_t i = add_config(c);
    if (was_proposed(i) || std::find(out.begin(), out.end(), i) != out.end()) continue;
    out.push_back(i);
    candidates_.push_back({f, i, a->loss, a->cost});
    --candidates_left_;
  }
  return out;
}

}  // namespace qtune
