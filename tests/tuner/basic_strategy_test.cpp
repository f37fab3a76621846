// INC's basic fallback on a synthetic 4-layer model whose accuracy loss is a
// sum of per-layer costs, so every trial's loss and the fallback order are
// worked by hand.
#include <gtest/gtest.h>

#include <regex>

#include "tuner/strategies/basic.h"

namespace qtune {
namespace {

const char* kLayers[] = {"net.l0", "net.l1", "net.l2", "net.l3"};
// Loss of a layer at 2 bits; at 8 bits a tenth of it; fp32 none.
const double kCost[] = {0.02, 0.10, 0.05, 0.01};

bool matches(const std::string& pattern, const std::string& name) {
  return std::regex_match(name, std::regex(pattern));
}

// Precision of each layer under `c`, the way quantize() resolves it: fp32_layers
// first, then the last matching override, then the block's bits.
double synthetic_loss(const QuantConfig& c, std::vector<std::string>* quantized) {
  double loss = 0;
  for (int k = 0; k < 4; ++k) {
    bool fp32 = false;
    for (const auto& p : c.fp32_layers) fp32 = fp32 || matches(p, kLayers[k]);
    if (fp32) continue;
    int bits = c.params["bits"].get<int>();
    for (const auto& o : c.overrides)
      if (matches(o.name_regex, kLayers[k])) bits = o.params["bits"].get<int>();
    loss += bits >= 8 ? kCost[k] / 10 : kCost[k];
    quantized->push_back(kLayers[k]);
  }
  return loss;
}

struct BasicRun {
  std::vector<QuantConfig> configs;  ///< in hand-out order
  std::vector<double> losses;
};

BasicRun run_basic(double max_loss, int64_t max_trials = 100) {
  QuantConfig base;
  base.params = {{"bits", 2}, {"group_size", 32}};
  StrategyOptions o;
  o.max_trials = max_trials;
  o.objective = "size";
  BasicStrategy s({base}, o);
  BasicRun run;
  while (auto i = s.next()) {
    const QuantConfig& c = s.trials()[static_cast<size_t>(*i)];
    TrialRecord r;
    r.index = *i;
    r.status = "COMPLETED";
    std::vector<std::string> quantized;
    r.accuracy_loss = synthetic_loss(c, &quantized);
    r.passed = *r.accuracy_loss <= max_loss;
    r.size_bytes = 1000;
    r.metrics["layers"] = Json::array();
    for (const auto& name : quantized)
      r.metrics["layers"].push_back({{"name", name}, {"quantized", true}});
    run.configs.push_back(c);
    run.losses.push_back(*r.accuracy_loss);
    s.on_result(r);
  }
  EXPECT_TRUE(s.done());
  return run;
}

TEST(BasicStrategy, RanksBySensitivityThenFallsBackTo8BitsGreedily) {
  const BasicRun run = run_basic(0.03);
  // 1 grid trial, 4 sensitivity trials, then l1, l2, l0 to 8 bits (passes at 0.027).
  ASSERT_EQ(run.configs.size(), 8u);
  EXPECT_NEAR(run.losses[0], 0.18, 1e-12);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(run.losses[1 + k], kCost[k], 1e-12) << "alone: " << k;
  EXPECT_NEAR(run.losses[5], 0.01 + 0.05 + 0.02 + 0.01, 1e-12);
  EXPECT_NEAR(run.losses[6], 0.01 + 0.005 + 0.02 + 0.01, 1e-12);
  EXPECT_NEAR(run.losses[7], 0.01 + 0.005 + 0.002 + 0.01, 1e-12);
  const QuantConfig& last = run.configs.back();
  ASSERT_EQ(last.overrides.size(), 3u) << "fallbacks accumulate";
  EXPECT_EQ(last.overrides[0].name_regex, "net\\.l1") << "exact names, dots escaped";
  EXPECT_EQ(last.overrides[1].name_regex, "net\\.l2");
  EXPECT_EQ(last.overrides[2].name_regex, "net\\.l0");
  EXPECT_TRUE(last.fp32_layers.empty());
}

TEST(BasicStrategy, AfterEveryLayerAt8BitsFallsBackToFp32) {
  const BasicRun run = run_basic(0.0015);
  // 1 + 4 + 4 (all at 8 bits: 0.018) + l1, l2, l0 to fp32 (l3 alone at 8 bits: 0.001).
  ASSERT_EQ(run.configs.size(), 12u);
  EXPECT_NEAR(run.losses[8], 0.018, 1e-12);
  EXPECT_NEAR(run.losses[9], 0.008, 1e-12);
  EXPECT_NEAR(run.losses[10], 0.003, 1e-12);
  EXPECT_NEAR(run.losses[11], 0.001, 1e-12);
  EXPECT_EQ(run.configs.back().fp32_layers,
            (std::vector<std::string>{"net\\.l1", "net\\.l2", "net\\.l0"}));
}

TEST(BasicStrategy, StopsWhenTheSpacePassesOrTheBudgetEnds) {
  EXPECT_EQ(run_basic(0.5).configs.size(), 1u) << "the grid trial passes: no fallback";
  EXPECT_EQ(run_basic(0.03, 6).configs.size(), 6u) << "max_trials counts every trial";
  EXPECT_EQ(run_basic(0.03, 3).configs.size(), 1u)
      << "a budget too small to rank every layer runs no sensitivity trial";
}

}  // namespace
}  // namespace qtune
