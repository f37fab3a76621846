// What `qtune tune --print-space` says a strategy will run: the grid and
// sampling strategies take at most max_trials configs of the space; basic
// spends max_trials on the space, its probes and its fallbacks; mixed-bits
// runs config 0 at each width plus its allocations, and its probes on top.
#include "tuner/strategy_extent.h"

#include <gtest/gtest.h>

namespace qtune {
namespace {

TuningConfig with_strategy(const std::string& name, int64_t max_trials,
                           Json options = Json::object()) {
  TuningConfig c;
  c.strategy = name;
  c.max_trials = max_trials;
  c.strategy_options = std::move(options);
  return c;
}

TEST(StrategyExtent, GridAndSamplingTakeConfigsOfTheSpace) {
  const auto grid = strategy_extent(with_strategy("exhaustive", 14), 16);
  EXPECT_EQ(grid.trials_at_most, 14);
  EXPECT_EQ(grid.probes_per_layer, 0);
  EXPECT_EQ(grid.text, "strategy exhaustive runs at most 14 (the first max_trials)");
  const auto tpe = strategy_extent(with_strategy("tpe", 40), 16);
  EXPECT_EQ(tpe.trials_at_most, 16);
  EXPECT_EQ(tpe.text, "strategy tpe runs at most 16 (drawn from all of them)");
}

TEST(StrategyExtent, BasicSpendsMaxTrialsBeyondTheSpace) {
  const auto e = strategy_extent(with_strategy("basic", 8), 3);
  EXPECT_EQ(e.trials_at_most, 8);
  EXPECT_EQ(e.probes_per_layer, 0) << "its probes count in max_trials";
  EXPECT_EQ(e.text,
            "strategy basic runs at most 8: the first 3 configs, then, if none passes, one "
            "sensitivity probe per quantized layer of the best and its fallbacks (a layer at a "
            "time to 8 bits, then to fp32), within max_trials");
  EXPECT_EQ(strategy_extent(with_strategy("basic", 8), 20).text.substr(0, 50),
            "strategy basic runs at most 8: the first 8 configs");
}

TEST(StrategyExtent, MixedBitsNamesItsWidthsAllocationsAndProbes) {
  // Defaults: widths 2, 3, 4, 8 and four budgets -> 8 candidates at most.
  const auto e = strategy_extent(with_strategy("mixed-bits", 20), 1);
  EXPECT_EQ(e.trials_at_most, 8);
  EXPECT_EQ(e.probes_per_layer, 4);
  EXPECT_EQ(e.text,
            "strategy mixed-bits runs at most 8 from config 0: its 4 widths and up to 4 "
            "allocations of per-layer widths under the budget, + 4 sensitivity probes per "
            "quantized layer (one per width) and one with every layer fp32, scored on the "
            "calibration set, not counted in max_trials");
  const auto small = strategy_extent(
      with_strategy("mixed-bits", 20, Json{{"widths", {3, 4}}, {"budgets", {1.0}}}), 1);
  EXPECT_EQ(small.trials_at_most, 3);
  EXPECT_EQ(small.probes_per_layer, 2);
  EXPECT_NE(small.text.find("its 2 widths and up to 1 allocations"), std::string::npos)
      << small.text;
  const auto on_eval =
      strategy_extent(with_strategy("mixed-bits", 20, Json{{"probe_data", "evaluation"}}), 1);
  EXPECT_NE(on_eval.text.find("(one per width), scored on the evaluation set, not counted"),
            std::string::npos)
      << on_eval.text;
  // max_trials cuts the candidates, never the probes.
  const auto cut = strategy_extent(with_strategy("mixed-bits", 2), 1);
  EXPECT_EQ(cut.trials_at_most, 2);
  EXPECT_EQ(cut.probes_per_layer, 4);
}

}  // namespace
}  // namespace qtune
