#include "tuner/strategy.h"

#include "common/error.h"
#include "tuner/strategies/basic.h"
#include "tuner/strategies/exhaustive.h"
#include "tuner/strategies/first_pass.h"
#include "tuner/strategies/mixed_bits.h"
#include "tuner/strategies/random_search.h"
#include "tuner/strategies/tpe.h"
#include "tuner/trial.h"

namespace qtune {

Strategy::Strategy(std::vector<QuantConfig> space, const StrategyOptions& options)
    : options_(options), budget_(options.max_trials) {
  for (auto& c : space) add_config(c);
}

const std::vector<std::string>& Strategy::names() {
  static const std::vector<std::string> kNames = {"exhaustive", "first-pass", "random",
                                                  "tpe",        "basic",      "mixed-bits"};
  return kNames;
}

std::unique_ptr<Strategy> Strategy::create(const std::string& name, std::vector<QuantConfig> space,
                                           const StrategyOptions& options) {
  // The grid strategies walk the space in order: max_trials cuts it.
  const bool grid = name == "exhaustive" || name == "first-pass";
  if (grid && static_cast<int64_t>(space.size()) > options.max_trials)
    space.resize(static_cast<size_t>(options.max_trials));
  if (name == "exhaustive") return std::make_unique<ExhaustiveStrategy>(std::move(space), options);
  if (name == "first-pass") return std::make_unique<FirstPassStrategy>(std::move(space), options);
  if (name == "random") return std::make_unique<RandomStrategy>(std::move(space), options);
  if (name == "tpe") return std::make_unique<TpeStrategy>(std::move(space), options);
  if (name == "basic") return std::make_unique<BasicStrategy>(std::move(space), options);
  if (name == "mixed-bits") return std::make_unique<MixedBitsStrategy>(std::move(space), options);
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown strategy \"" + name + "\" (expected one of: " + known + ")");
}

int64_t Strategy::add_config(const QuantConfig& config) {
  const std::string hash = config_hash(config);
  auto it = index_of_.find(hash);
  if (it != index_of_.end()) return it->second;
  trials_.push_back(config);
  const auto index = static_cast<int64_t>(trials_.size()) - 1;
  index_of_[hash] = index;
  auto r = remembered_.find(hash);
  if (r != remembered_.end()) {
    r->second.index = index;
    mark_finished(r->second);
    remembered_.erase(r);
  }
  return index;
}

std::optional<int64_t> Strategy::index_of(const std::string& config_hash) const {
  auto it = index_of_.find(config_hash);
  if (it == index_of_.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> Strategy::next() {
  while (!done_) {
    while (cursor_ < generation_.size()) {
      const int64_t i = generation_[cursor_++];
      if (finished_.count(i) || running_.count(i) || !wanted(i)) continue;
      running_.insert(i);
      ++in_flight_;
      return i;
    }
    // The next generation may only be decided once every result is in.
    if (in_flight_ > 0) return std::nullopt;
    close_generation();
    generation_.clear();
    cursor_ = 0;
    for (int64_t i : propose()) {
      QT_ASSERT(i >= 0 && i < num_trials(), "strategy proposed unknown trial ", i);
      if (proposed_.insert(i).second) generation_.push_back(i);
    }
    if (generation_.empty()) done_ = true;
  }
  return std::nullopt;
}

void Strategy::close_generation() {
  for (int64_t i : generation_) {
    auto it = finished_.find(i);
    if (it != finished_.end()) history_.push_back(&it->second);
  }
}

void Strategy::on_result(const TrialRecord& record) {
  const int64_t i = record.index;
  QT_ASSERT(i >= 0 && i < num_trials(), "trial index ", i, " out of range");
  const bool was_running = running_.erase(i) == 1;
  QT_ASSERT(was_running, "result for trial ", i, " that was not running");
  --in_flight_;
  finished_[i] = record;
  observe(finished_[i]);
}

void Strategy::mark_finished(const TrialRecord& record) {
  const int64_t i = record.index;
  QT_ASSERT(i >= 0 && i < num_trials(), "trial index ", i, " out of range");
  QT_ASSERT(!finished_.count(i) && !running_.count(i), "trial ", i, " marked finished twice");
  finished_[i] = record;
  observe(finished_[i]);
}

void Strategy::remember_finished(const TrialRecord& record) {
  remembered_[record.config_hash] = record;
}

TrialScore score_trial(const TrialRecord& r, const std::string& objective) {
  TrialScore s;
  if (r.status != "COMPLETED" || !r.accuracy_loss) return s;  // tier 2
  if (!r.passed.value_or(false)) return {1, *r.accuracy_loss};
  if (objective == "size" && r.size_bytes) return {0, static_cast<double>(*r.size_bytes)};
  if (objective == "latency" && r.latency_ms_p50) return {0, *r.latency_ms_p50};
  return {0, *r.accuracy_loss};
}

}  // namespace qtune
