// INC 2.x's basic strategy: run the space (the first max_trials of it, in
// order); if no trial meets the constraints, take the best candidate (best by
// the objective among the completed trials, the accuracy goal aside; ties to
// the smaller accuracy loss), measure each of its quantized layers'
// sensitivity once (a trial with only that layer quantized: its accuracy
// loss), then fall back greedily, most sensitive layer first, accumulating:
// every layer to 8 bits in turn (when the algorithm has bits below 8), then
// every layer to fp32 in turn, one trial each, until a fallback trial
// passes (a sensitivity trial that passes is a probe and does not end it).
//
// Each step is its own generation (one trial decided from all results
// before it), so the trials do not depend on the number of workers.
#pragma once

#include "tuner/strategy.h"

namespace qtune {

class BasicStrategy : public Strategy {
 public:
  using Strategy::Strategy;
  /// Layer names, most sensitive first (known after the sensitivity trials).
  const std::vector<std::string>& ranked_layers() const { return ranked_; }
  /// The sensitivity trials.
  bool is_probe(int64_t index) const override;

 protected:
  std::vector<int64_t> propose() override;

 private:
  std::vector<int64_t> start_sensitivity();
  std::vector<int64_t> next_fallback();

  enum class Phase { kGrid, kSensitivity, kFallback };
  Phase phase_ = Phase::kGrid;
  int64_t grid_size_ = 0;
  QuantConfig base_, current_;
  std::vector<std::string> layers_;         ///< the base's quantized layers
  std::vector<int64_t> sensitivity_trial_;  ///< per layer of layers_
  std::vector<std::string> ranked_;
  size_t step_ = 0;  ///< position in the fallback sequence (8-bit steps, then fp32 steps)
  bool to_8bit_ = false;
};

}  // namespace qtune
