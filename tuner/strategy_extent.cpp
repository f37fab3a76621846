#include "tuner/strategy_extent.h"

#include <algorithm>

#include "tuner/strategies/mixed_bits.h"

namespace qtune {

StrategyExtent strategy_extent(const TuningConfig& config, int64_t space_size) {
  StrategyExtent e;
  const std::string& name = config.strategy;
  const int64_t from_space = std::min(space_size, config.max_trials);
  const std::string head = "strategy " + name + " runs at most ";
  if (name == "basic") {
    // Its probes and fallbacks come out of the same max_trials.
    e.trials_at_most = config.max_trials;
    e.text = head + std::to_string(e.trials_at_most) + ": the first " + std::to_string(from_space) +
             " configs, then, if none passes, one sensitivity probe per quantized layer of the "
             "best and its fallbacks (a layer at a time to 8 bits, then to fp32), within "
             "max_trials";
    return e;
  }
  if (name == "mixed-bits") {
    const auto widths =
        static_cast<int64_t>(MixedBitsStrategy::widths_option(config.strategy_options).size());
    const auto budgets =
        static_cast<int64_t>(MixedBitsStrategy::budgets_option(config.strategy_options).size());
    e.trials_at_most = std::min(config.max_trials, widths + budgets);
    e.probes_per_layer = widths;
    e.text =
        head + std::to_string(e.trials_at_most) + " from config 0: its " + std::to_string(widths) +
        " widths and up to " + std::to_string(budgets) +
        " allocations of per-layer widths under the budget, + " + std::to_string(widths) +
        " sensitivity probes per quantized layer (one per width)" +
        (MixedBitsStrategy::probe_data_option(config.strategy_options) == ScoredOn::kCalibration
             ? " and one with every layer fp32, scored on the calibration set"
             : ", scored on the evaluation set") +
        ", not counted in max_trials";
    return e;
  }
  const bool grid = name == "exhaustive" || name == "first-pass";
  e.trials_at_most = from_space;
  e.text = head + std::to_string(from_space) +
           (grid ? " (the first max_trials)" : " (drawn from all of them)");
  return e;
}

}  // namespace qtune
