// Mixed-bit allocation under a budget (llama.cpp --target-bpw, GPTQModel
// `dynamic`, AutoRound target_bits), in three generations over the first
// config of the space (the base: its algorithm, group size, scheme):
//  1. uniform: the base at every width (strategy option `widths`, default
//     2, 3, 4, 8; a width is a bit count, or a bit count and a group size):
//     real candidates, and the stored bytes of every layer at every width (a
//     trial's metrics.layers[].weight_bytes);
//  2. sensitivity: per quantized layer and width, the base at that width with
//     every other layer in fp32 -- its loss is the layer's loss at that width.
//     Probes (is_probe): not candidates, not in max_trials. They are scored on
//     the calibration set (option probe_data, default calibration), against
//     one more probe with every layer fp32 -- so the evaluation set that
//     picks the best candidate did not also pick each layer's width (scored
//     on it, the allocation fit its windows and lost on unseen text);
//  3. allocation: per budget (the target times each of `budgets`, default
//     1, 0.97, 0.94, 0.91), the widths that minimize the summed layer losses
//     with the stored bits within it (tuner/strategies/bit_allocation.h); the
//     distinct assignments are proposed as per-layer override configs and
//     verified end to end like any trial.
// The target: constraints.max_bits_per_weight x the quantized layers' weight
// count, and/or max_size_bytes less what the model stores besides those
// layers' weights (the tighter of the two). A layer with no width measured
// stays fp32. Each phase is one generation, so the trials do not depend on
// the number of workers or on completion order.
#pragma once

#include <optional>
#include <set>

#include "tuner/strategy.h"

namespace qtune {

class MixedBitsStrategy : public Strategy {
 public:
  /// One choice for a layer: its bits and, when given, its group size (else
  /// the base config's).
  struct Width {
    int bits = 4;
    std::optional<int64_t> group_size;
  };

  MixedBitsStrategy(std::vector<QuantConfig> space, const StrategyOptions& options);
  /// The strategy block's `widths` (default 2, 3, 4, 8; an entry is a bit
  /// count or {"bits", "group_size"}) and `budgets` (default 1, 0.97, 0.94,
  /// 0.91), from StrategyOptions::params.
  static std::vector<Width> widths_option(const Json& params);
  static std::vector<double> budgets_option(const Json& params);
  /// The strategy block's `probe_data`: calibration (default) or evaluation.
  static ScoredOn probe_data_option(const Json& params);
  bool is_probe(int64_t index) const override { return probes_.count(index) > 0; }
  ScoredOn scored_on(int64_t index) const override {
    return is_probe(index) ? probe_on_ : ScoredOn::kEvaluation;
  }

  /// Per assignment proposed in phase 3: the budget fraction it was solved for
  /// and its predicted (summed) loss and stored bits.
  struct Candidate {
    double fraction = 1;
    int64_t index = -1;
    double predicted_loss = 0;
    int64_t bits = 0;
  };
  const std::vector<Candidate>& candidates() const { return candidates_; }

 protected:
  std::vector<int64_t> propose() override;

 private:
  std::vector<int64_t> propose_uniform();
  std::vector<int64_t> propose_probes();
  std::vector<int64_t> propose_allocations();
  QuantConfig at_width(const Width& w) const;
  /// The group size a width quantizes with: its own, else the base's.
  Json group_of(const Width& w) const;
  const TrialRecord* result(int64_t index) const;
  /// A finished probe's loss: against the all-fp32 probe when scored on the
  /// calibration set (relative), else its recorded accuracy_loss.
  std::optional<double> probe_loss(int64_t index) const;

  enum class Phase { kUniform, kProbes, kAllocate, kDone };
  Phase phase_ = Phase::kUniform;
  QuantConfig base_;
  std::vector<Width> widths_;
  std::vector<double> fractions_;
  ScoredOn probe_on_ = ScoredOn::kCalibration;
  int64_t reference_ = -1;        ///< the all-fp32 probe (calibration scoring)
  int64_t candidates_left_ = 0;   ///< max_trials less the candidates proposed
  std::vector<int64_t> uniform_;  ///< per width
  std::vector<std::string> layers_;
  std::vector<int64_t> weights_;                ///< per layer
  std::vector<std::vector<int64_t>> probe_of_;  ///< [layer][width], -1 = none
  std::vector<std::vector<int64_t>> bytes_of_;  ///< [layer][width], -1 = unknown
  int64_t other_bytes_ = -1;  ///< what a model stores besides the quantized weights
  std::set<int64_t> probes_;
  std::vector<Candidate> candidates_;
};

}  // namespace qtune
