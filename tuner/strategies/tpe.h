// Tree-structured Parzen estimator over the space's parameters, as Optuna's
// TPESampler defines it in its default mode (independent per parameter):
// n_startup random trials first; then the finished trials are ranked
// (TrialScore) and split into the gamma(n) best, l(x), and the rest, g(x);
// each parameter gets a Parzen estimator for both (tuner/strategies/parzen.h);
// n_ei_candidates configs are drawn from l(x) and the one with the largest
// l(x)/g(x) is proposed.
//
// A parameter is one field of a config: algorithm, backend, each params.KEY
// (integer when every value in the space is a positive integer, as bits;
// categorical otherwise, as group_size with its -1), overrides and
// fp32_layers. Fields constant over the space are left out; a config without
// a field (another algorithm's param) skips it, as Optuna's conditional
// parameters do. The space is finite and a config is never run twice, so
// candidates are drawn from l(x) restricted to the configs not yet proposed
// (Optuna would draw from all of l(x) and may repeat a trial).
//
// Proposals come in generations of kGeneration trials, each decided from all
// earlier results (the first generation is the n_startup random trials), so
// the trials do not depend on the number of workers.
#pragma once

#include "tuner/strategies/parzen.h"
#include "tuner/strategies/seeded_rng.h"
#include "tuner/strategy.h"

namespace qtune {

class TpeStrategy : public Strategy {
 public:
  static constexpr int64_t kStartupTrials = 10;  ///< Optuna's n_startup_trials
  static constexpr int kCandidates = 24;         ///< Optuna's n_ei_candidates
  static constexpr double kPriorWeight = 1.0;    ///< Optuna's prior_weight
  static constexpr int64_t kGeneration = 4;      ///< proposals decided together

  TpeStrategy(std::vector<QuantConfig> space, const StrategyOptions& options);

 protected:
  std::vector<int64_t> propose() override;

 private:
  struct Dimension {
    std::string field;
    ParzenParameter param;
    std::vector<int64_t> value_of;  ///< per trial: index into param.values, -1 = absent
  };
  std::vector<int64_t> unproposed() const;
  int64_t pick(const std::vector<int64_t>& pool, const std::vector<ParzenEstimator>& below,
               const std::vector<ParzenEstimator>& above);

  std::vector<Dimension> dims_;
  SeededRng rng_;
};

}  // namespace qtune
