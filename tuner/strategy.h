// Which trial to run next, and when to stop (DESIGN.md layer 7): ask/tell
// over full results.
//
// A strategy owns the run's trial list: the expanded search space, to which
// it may append configs of its own (a fallback, a mixed-bit assignment).
// A trial is named by its position in that list. The farm asks next()
// whenever a worker is free and tells on_result() every finished trial with
// its config and measurements (a TrialRecord, judged against the
// constraints); the run ends when done() and nothing is in flight.
//
// Proposals are made in generations: a batch decided only from the results
// of earlier generations, all of which are in, read in proposal order. So
// neither the order in which trials finish nor the number of workers changes
// what is proposed: the same config and seed give the same trials with 1
// worker or 8. Trials finished in an earlier run (resume) are told with
// mark_finished() before the first next(); a proposal that is already
// finished is not handed out again, and its recorded result counts for its
// generation as if it had just run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "quantizers/quantizer.h"
#include "storage/results_db.h"
#include "tuner/trial.h"

namespace qtune {

struct StrategyOptions {
  int64_t max_trials = 100;  ///< trials the strategy may hand out (resumed ones count)
  uint64_t seed = 42;
  std::string objective = "latency";  ///< latency | size | accuracy: what adaptive ones minimize
  /// The budgets mixed-bits allocates to (the run's constraints).
  std::optional<double> max_bits_per_weight;
  std::optional<int64_t> max_size_bytes;
  /// The strategy block's own settings beyond its name (mixed-bits: widths, budgets).
  Json params = Json::object();
};

class Strategy {
 public:
  Strategy(std::vector<QuantConfig> space, const StrategyOptions& options);
  virtual ~Strategy() = default;

  /// "exhaustive" | "first-pass" | "random" | "tpe" | "basic" | "mixed-bits"; qtune::Error
  /// for anything else. `space` is the whole expanded space: exhaustive and
  /// first-pass keep its first max_trials configs, the others propose at most
  /// max_trials trials (basic: its first max_trials, then its fallbacks).
  static std::unique_ptr<Strategy> create(const std::string& name, std::vector<QuantConfig> space,
                                          const StrategyOptions& options);
  static const std::vector<std::string>& names();

  /// The next trial to hand out; nullopt when there is none now (the
  /// generation's results are not all in) or ever (done()).
  std::optional<int64_t> next();
  /// A handed-out trial ended (record.index names it).
  void on_result(const TrialRecord& record);
  /// A trial that already ended in an earlier run (record.index names it).
  void mark_finished(const TrialRecord& record);
  /// A trial of an earlier run whose config is not in trials() (yet): if the
  /// strategy proposes that config again, it counts as finished with this result.
  void remember_finished(const TrialRecord& record);
  /// A measurement (one layer quantized alone), not a candidate: recorded as a
  /// sensitivity task and never chosen as the best model.
  virtual bool is_probe(int64_t index) const { return false; }
  /// The data trial `index` is scored on (tuner/trial.h ScoredOn).
  virtual ScoredOn scored_on(int64_t index) const { return ScoredOn::kEvaluation; }
  /// Nothing will ever be handed out again.
  bool done() const { return done_; }

  const std::vector<QuantConfig>& trials() const { return trials_; }
  int64_t num_trials() const { return static_cast<int64_t>(trials_.size()); }
  /// The position of a config in trials(), by config hash.
  std::optional<int64_t> index_of(const std::string& config_hash) const;
  int64_t in_flight() const { return in_flight_; }
  /// Trials this strategy will hand out at most (for progress lines).
  int64_t budget() const { return budget_; }
  /// Every finished trial (told or resumed), by index.
  const std::map<int64_t, TrialRecord>& finished() const { return finished_; }

 protected:
  /// The next generation, decided from history(); empty = done. May call
  /// add_config(). Indices already finished (resume) are skipped by next().
  virtual std::vector<int64_t> propose() = 0;
  /// Whether a queued index is still worth handing out (first-pass says no
  /// above a known pass).
  virtual bool wanted(int64_t index) const { return true; }
  /// Every finished trial, in completion order (for strategies that react at once).
  virtual void observe(const TrialRecord& record) {}

  /// The index of `config`, appended to trials() when new.
  int64_t add_config(const QuantConfig& config);
  /// Results of all earlier generations, in proposal order.
  const std::vector<const TrialRecord*>& history() const { return history_; }
  /// Distinct trials proposed so far (a sampling strategy stops at max_trials).
  int64_t num_proposed() const { return static_cast<int64_t>(proposed_.size()); }
  bool was_proposed(int64_t index) const { return proposed_.count(index) > 0; }

  StrategyOptions options_;
  int64_t budget_ = 0;

 private:
  void close_generation();

  std::vector<QuantConfig> trials_;
  std::map<std::string, int64_t> index_of_;
  std::map<int64_t, TrialRecord> finished_;
  std::map<std::string, TrialRecord> remembered_;  ///< by config hash, see remember_finished
  std::vector<int64_t> generation_;                ///< the current generation, in proposal order
  size_t cursor_ = 0;                              ///< next position in generation_ to consider
  std::set<int64_t> running_;
  std::set<int64_t> proposed_;
  std::vector<const TrialRecord*> history_;
  int64_t in_flight_ = 0;
  bool done_ = false;
};

/// Lower is better: how a finished trial ranks for the adaptive strategies.
/// Passing trials first, by the objective (size_bytes, p50 latency, or
/// accuracy loss); then completed trials that failed a constraint, by accuracy
/// loss; then trials that did not complete.
struct TrialScore {
  int tier = 2;
  double value = 0;
  bool operator<(const TrialScore& o) const {
    return tier != o.tier ? tier < o.tier : value < o.value;
  }
};
TrialScore score_trial(const TrialRecord& record, const std::string& objective);

}  // namespace qtune
