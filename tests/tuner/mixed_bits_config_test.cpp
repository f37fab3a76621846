// The mixed-bits settings of a tuning config: strategy as a mapping, the
// bits-per-weight constraint, and their errors word for word.
#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/support/tuning_config_error.h"
#include "tuner/tuning_config.h"

namespace qtune {
namespace {

const std::string kHead = "model: builtin:fmnist-cnn-tiny\nsearch_space:\n  - algorithm: rtn\n";

/// The error of the config whose block is kHead followed by `yaml`.
std::string error_of(const std::string& yaml) { return testing::tuning_config_error(kHead + yaml); }

TEST(MixedBitsConfig, ReadsTheStrategyMappingAndTheBudget) {
  const TuningConfig c = parse_tuning_config(
      kHead +
          "constraints: {max_bits_per_weight: 3.5}\n"
          "strategy: {name: mixed-bits, widths: [2, 4, 8], budgets: [1, 0.95]}\n",
      "t.yaml");
  EXPECT_EQ(c.strategy, "mixed-bits");
  EXPECT_EQ(c.strategy_options["widths"], Json::array({2, 4, 8}));
  EXPECT_EQ(c.strategy_options["budgets"], Json::array({1.0, 0.95}));
  EXPECT_FALSE(c.strategy_options.contains("probe_data")) << "the default is not written";
  ASSERT_TRUE(c.constraints.max_bits_per_weight);
  EXPECT_EQ(*c.constraints.max_bits_per_weight, 3.5);
  EXPECT_EQ(c.to_json()["constraints"]["max_bits_per_weight"], 3.5);
  EXPECT_EQ(c.to_json()["strategy_options"]["widths"], Json::array({2, 4, 8}));

  const TuningConfig plain = parse_tuning_config(
      kHead + "constraints: {max_size_bytes: 1000}\nstrategy: mixed-bits\n", "t");
  EXPECT_EQ(plain.strategy, "mixed-bits");
  EXPECT_TRUE(plain.strategy_options.empty());
  EXPECT_FALSE(plain.to_json().contains("strategy_options")) << "other runs' identity unchanged";
  EXPECT_FALSE(plain.to_json()["constraints"].contains("max_bits_per_weight"));
  EXPECT_EQ(parse_tuning_config(kHead + "strategy: {name: tpe}\n", "t").strategy, "tpe");
}

TEST(MixedBitsConfig, ProbeDataChoosesTheSetProbesAreScoredOn) {
  const auto options = [](const std::string& strategy) {
    return parse_tuning_config(
               kHead + "constraints: {max_bits_per_weight: 3.5}\nstrategy: " + strategy + "\n",
               "t.yaml")
        .strategy_options;
  };
  EXPECT_EQ(options("{name: mixed-bits, probe_data: evaluation}")["probe_data"], "evaluation");
  EXPECT_EQ(options("{name: mixed-bits, probe_data: calibration}")["probe_data"], "calibration");
}

TEST(MixedBitsConfig, AWidthMayGiveItsGroupSize) {
  const TuningConfig c = parse_tuning_config(
      "model: builtin:fmnist-cnn-tiny\nsearch_space:\n  - algorithm: rtn\n"
      "    params: {group_size: 128}\n"
      "constraints: {max_bits_per_weight: 3.5}\n"
      "strategy: {name: mixed-bits, widths: [2, {bits: 3, group_size: -1}, "
      "{bits: 3, group_size: 64}, 4]}\n",
      "t.yaml");
  EXPECT_EQ(c.strategy_options["widths"],
            Json::parse(R"([2, {"bits": 3, "group_size": -1}, {"bits": 3, "group_size": 64}, 4])"));
}

TEST(MixedBitsConfig, BadSettingsNameTheField) {
  EXPECT_EQ(error_of("strategy: mixed-bits\n"),
            "t.yaml: strategy: mixed-bits allocates widths under a budget: set "
            "constraints.max_bits_per_weight or constraints.max_size_bytes");
  EXPECT_EQ(error_of("constraints: {max_bits_per_weight: 0}\n"),
            "t.yaml: constraints.max_bits_per_weight: expected a number > 0, got 0");
  const std::string budget = "constraints: {max_bits_per_weight: 3.5}\n";
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, widths: [2, 9]}\n"),
            "t.yaml: strategy.widths[1]: expected an integer in [1, 8] (bits of a weight), got 9");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, widths: [4, 4]}\n"),
            "t.yaml: strategy.widths[1]: width 4 is listed twice");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, widths: [{bits: 3}]}\n"),
            "t.yaml: strategy.widths[0].group_size: missing (or write the bits alone)");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, widths: [{bits: 3, group_size: 0}]}\n"),
            "t.yaml: strategy.widths[0].group_size: expected -1 (per channel) or > 0, got 0");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, widths: [{bits: 3, group: 64}]}\n"),
            "t.yaml: strategy.widths[0].group: unknown key (expected one of: bits, group_size)");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, widths: [{bits: 3, group_size: 64}, "
                              "{bits: 3, group_size: 64}]}\n"),
            "t.yaml: strategy.widths[1]: width {\"bits\":3,\"group_size\":64} is listed twice");
  EXPECT_EQ(
      error_of(budget + "strategy: {name: mixed-bits, widths: [2, {bits: 3, group_size: 64}]}\n"),
      "t.yaml: strategy.widths[1].group_size: needs search_space[0].params to set group_size "
      "(the group of the widths that give bits alone)");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, widths: []}\n"),
            "t.yaml: strategy.widths: expected a non-empty list of bit widths, got a list");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, budgets: [1.2]}\n"),
            "t.yaml: strategy.budgets[0]: expected a fraction of the budget in (0, 1], got 1.2");
  EXPECT_EQ(error_of(budget + "strategy: {name: mixed-bits, probe_data: training}\n"),
            "t.yaml: strategy.probe_data: expected one of calibration, evaluation, got training");
  EXPECT_EQ(error_of(budget + "calibration: {samples: 0}\nstrategy: mixed-bits\n"),
            "t.yaml: calibration.samples: is 0, but mixed-bits scores its sensitivity probes on "
            "the calibration set: give samples, or set strategy.probe_data: evaluation");
  EXPECT_NO_THROW(parse_tuning_config(kHead + budget +
                                          "calibration: {samples: 0}\n"
                                          "strategy: {name: mixed-bits, probe_data: evaluation}\n",
                                      "t.yaml"));
  EXPECT_EQ(error_of(budget + "strategy: {name: tpe, widths: [2]}\n"),
            "t.yaml: strategy.widths: unknown key (expected one of: name)");
  EXPECT_EQ(error_of(budget + "strategy: {widths: [2]}\n"),
            "t.yaml: strategy.name: missing (one of exhaustive, first-pass, random, tpe, basic, "
            "mixed-bits)");
}

}  // namespace
}  // namespace qtune
