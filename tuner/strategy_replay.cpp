#include "tuner/strategy_replay.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "tuner/coordinator.h"
#include "tuner/trial.h"

namespace qtune {

namespace {

// The farm's one worker: a submitted trial "runs" inside the next wait() and
// reports only which trial it was; the recorded result is attached by the
// farm's on_result callback, where the coordinator judges a real one.
class ReplayExecutor : public TrialExecutor {
 public:
  int num_workers() const override { return 1; }
  Event wait() override {
    Event e;
    if (pending_ >= 0) {
      e.result.emplace();
      e.result->index = pending_;
      e.result->status = "COMPLETED";
      pending_ = -1;
    }
    return e;
  }
  void submit(int, int64_t index, const QuantConfig&, ScoredOn) override { pending_ = index; }
  void stop(int) override {}

 private:
  int64_t pending_ = -1;
};

}  // namespace

std::vector<int64_t> best_of_table(const std::vector<TrialRecord>& table,
                                   const std::string& objective) {
  std::vector<int64_t> best;
  TrialScore top;
  for (const TrialRecord& r : table) {
    const TrialScore s = score_trial(r, objective);
    if (best.empty() || s < top) {
      best.clear();
      top = s;
    }
    if (!(top < s)) best.push_back(r.index);
  }
  return best;
}

ReplayOutcome replay_until_best(const std::string& name, const std::vector<TrialRecord>& table,
                                const StrategyOptions& options) {
  std::vector<QuantConfig> space(table.size());
  std::map<std::string, const TrialRecord*> by_hash;
  std::vector<bool> seen(table.size(), false);
  for (const TrialRecord& r : table) {
    QT_CHECK(r.index >= 0 && r.index < static_cast<int64_t>(table.size()) &&
                 !seen[static_cast<size_t>(r.index)],
             "replay table: expected trials 0..", table.size() - 1, " once each, got trial ",
             r.index, " out of range or twice");
    seen[static_cast<size_t>(r.index)] = true;
    const std::string where = "replay table: trial " + std::to_string(r.index) + " config";
    QuantConfig c = QuantConfig::from_json(r.config, where);
    QT_CHECK(config_hash(c) == r.config_hash, where, ": expected config_hash ", r.config_hash,
             ", got ", config_hash(c), " (was the table written by another qtune version?)");
    space[static_cast<size_t>(r.index)] = std::move(c);
    by_hash[r.config_hash] = &r;
  }
  const std::vector<int64_t> best = best_of_table(table, options.objective);
  const std::set<std::string> best_hashes = [&] {
    std::set<std::string> h;
    for (int64_t i : best) h.insert(config_hash(space[static_cast<size_t>(i)]));
    return h;
  }();

  std::unique_ptr<Strategy> strategy = Strategy::create(name, std::move(space), options);
  ReplayOutcome out;
  ReplayExecutor executor;
  FarmCallbacks cb;
  cb.on_start = [&](int64_t index, int) {
    out.order.push_back(index);
    const std::string h = config_hash(strategy->trials()[static_cast<size_t>(index)]);
    if (out.trials_to_best < 0 && best_hashes.count(h))
      out.trials_to_best = static_cast<int64_t>(out.order.size());
  };
  cb.on_result = [&](const TrialResult& result) {
    const std::string h = config_hash(strategy->trials()[static_cast<size_t>(result.index)]);
    auto it = by_hash.find(h);
    QT_CHECK(it != by_hash.end(), "replay: strategy ", name, " proposed a config the table lacks: ",
             strategy->trials()[static_cast<size_t>(result.index)].to_json().dump());
    TrialRecord r = *it->second;
    r.index = result.index;
    return r;
  };
  cb.out_of_time = [&] { return out.trials_to_best >= 0; };
  run_farm(*strategy, executor, cb);
  return out;
}

}  // namespace qtune
