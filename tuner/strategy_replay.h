// Replays a recorded exhaustive table through a strategy: the strategy is
// driven by the coordinator's own farm (run_farm, one worker), and each trial
// it hands out is answered with the recorded result of the same config
// instead of being run. So a strategy can be compared with another on a real
// space many times over (seeds) for the cost of one exhaustive run
// (bench/suites/bench_strategy_replay.cpp; README "TPE against random").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/results_db.h"
#include "tuner/strategy.h"

namespace qtune {

struct ReplayOutcome {
  /// Trials handed out up to and including the first that ranks as well as
  /// the table's best (TrialScore under the objective); -1 = never.
  int64_t trials_to_best = -1;
  /// The trials handed out, in order (space positions = the table's trial column).
  std::vector<int64_t> order;
};

/// The positions in `table` whose recorded result ranks as well as its best
/// (score_trial under `objective`): ties are all the best.
std::vector<int64_t> best_of_table(const std::vector<TrialRecord>& table,
                                   const std::string& objective);

/// Runs strategy `name` (Strategy::create) over the table's configs, in its
/// trial order, until it hands out one of best_of_table() or is done. The
/// table must hold trials 0..n-1 once each, every config with its recorded
/// config_hash, and every config the strategy proposes (a strategy that adds
/// configs beyond the table -> qtune::Error).
ReplayOutcome replay_until_best(const std::string& name, const std::vector<TrialRecord>& table,
                                const StrategyOptions& options);

}  // namespace qtune
