// How many trials a run may take, as `qtune tune --print-space` states it
// before running anything. The grid and sampling strategies take configs of
// the space only; basic and mixed-bits also run configs of their own (probes,
// fallbacks, allocations), which the statement names.
#pragma once

#include <cstdint>
#include <string>

#include "tuner/tuning_config.h"

namespace qtune {

struct StrategyExtent {
  /// Trials counted in max_trials, at most (configs of the space and beyond).
  int64_t trials_at_most = 0;
  /// Sensitivity probes beyond trials_at_most, per quantized layer of the
  /// model (mixed-bits: one per width); 0 for the others.
  int64_t probes_per_layer = 0;
  /// "strategy S runs at most N ...": the sentence after the space's size.
  std::string text;
};

/// The extent of config.strategy over a space of `space_size` configs.
StrategyExtent strategy_extent(const TuningConfig& config, int64_t space_size);

}  // namespace qtune
