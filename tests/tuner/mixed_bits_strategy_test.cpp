// mixed-bits on a synthetic 4-layer model: a layer's stored bytes at b bits
// are b/8 per weight plus an fp32 scale per 128 weights, and a trial's loss is
// the sum of per-layer losses from a table, so the best allocation under a
// budget is known by enumerating all 4^4 assignments.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "common/error.h"
#include "tests/support/shuffled_executor.h"
#include "tuner/coordinator.h"
#include "tuner/selection.h"
#include "tuner/strategies/mixed_bits.h"

namespace qtune {
namespace {

const std::vector<std::string> kLayers = {"blk.0.q", "blk.0.k", "blk.1.mlp", "head"};
const std::vector<int64_t> kWeights = {4096, 4096, 16384, 1024};
const std::vector<int> kWidths = {2, 3, 4, 8};
// Loss with the layer alone at each width of kWidths.
const std::vector<std::vector<double>> kLoss = {{0.08, 0.02, 0.005, 0.0005},
                                                {0.01, 0.004, 0.001, 0.0001},
                                                {0.05, 0.01, 0.004, 0.0004},
                                                {0.30, 0.05, 0.01, 0.001}};
constexpr int64_t kOtherBytes = 500;  // biases, embeddings: outside the layers' weights
// What a probe scored on the calibration set records: a perplexity-like value
// (lower is better) whose relative rise over the all-fp32 probe's is its loss.
constexpr double kCalibrationFp32 = 20.0;

int64_t layer_bytes(size_t l, int bits) { return kWeights[l] * bits / 8 + kWeights[l] / 128 * 4; }

size_t width_pos(int bits) {
  return static_cast<size_t>(std::find(kWidths.begin(), kWidths.end(), bits) - kWidths.begin());
}

// Bits of each layer under `c` (0 = fp32), as quantize() resolves them.
std::vector<int> widths_of(const QuantConfig& c, size_t layers = kLayers.size()) {
  std::vector<int> out;
  for (size_t l = 0; l < layers; ++l) {
    bool fp32 = false;
    for (const auto& p : c.fp32_layers) fp32 = fp32 || std::regex_match(kLayers[l], std::regex(p));
    int bits = c.params["bits"].get<int>();
    for (const auto& o : c.overrides)
      if (std::regex_match(kLayers[l], std::regex(o.name_regex)))
        bits = o.params["bits"].get<int>();
    out.push_back(fp32 ? 0 : bits);
  }
  return out;
}

struct Synthetic {
  size_t layers = kLayers.size();
  double max_loss = 0.05;
  double max_bpw = 1e9;

  TrialRecord judge(const Strategy& s, int64_t index) const {
    const QuantConfig& c = s.trials()[static_cast<size_t>(index)];
    TrialRecord r;
    r.index = index;
    r.status = "COMPLETED";
    double loss = 0;
    int64_t bytes = 0, weights = 0, size = kOtherBytes;
    r.metrics["layers"] = Json::array();
    const std::vector<int> w = widths_of(c, layers);
    for (size_t l = 0; l < layers; ++l) {
      Json j = {{"name", kLayers[l]}, {"quantized", w[l] > 0}, {"weights", kWeights[l]}};
      if (w[l] > 0) {
        j["weight_bytes"] = layer_bytes(l, w[l]);
        loss += kLoss[l][width_pos(w[l])];
        bytes += layer_bytes(l, w[l]);
        weights += kWeights[l];
        size += layer_bytes(l, w[l]);
      } else {
        size += kWeights[l] * 4;
      }
      r.metrics["layers"].push_back(j);
    }
    r.size_bytes = size;
    if (s.scored_on(index) == ScoredOn::kCalibration) {
      // As the coordinator records it: a value, no loss against the baseline.
      r.accuracy = kCalibrationFp32 * (1 + loss);
      r.metrics["higher_is_better"] = false;
      r.metrics["scored_on"] = "calibration";
      return r;
    }
    const double bpw = static_cast<double>(bytes) * 8 / static_cast<double>(weights);
    r.metrics["bits_per_weight"] = bpw;
    r.accuracy_loss = loss;
    r.size_bytes = size;
    r.passed = loss <= max_loss && bpw <= max_bpw;
    return r;
  }
};

StrategyOptions bpw_budget(double bpw, int64_t max_trials = 100) {
  StrategyOptions o;
  o.max_trials = max_trials;
  o.objective = "accuracy";
  o.max_bits_per_weight = bpw;
  return o;
}

QuantConfig base() {
  QuantConfig c;
  c.params = {{"bits", 4}, {"group_size", 128}, {"scheme", "sym"}};
  return c;
}

struct StrategyRun {
  std::unique_ptr<MixedBitsStrategy> strategy;
  std::vector<int64_t> order;  ///< hand-out order
  std::vector<TrialRecord> records;
};

StrategyRun run_sequential(const StrategyOptions& o, const Synthetic& syn) {
  StrategyRun run;
  run.strategy = std::make_unique<MixedBitsStrategy>(std::vector<QuantConfig>{base()}, o);
  while (auto i = run.strategy->next()) {
    run.order.push_back(*i);
    run.records.push_back(syn.judge(*run.strategy, *i));
    run.strategy->on_result(run.records.back());
  }
  EXPECT_TRUE(run.strategy->done());
  return run;
}

// The least summed loss over all 4^4 assignments whose stored bits fit `budget_bits`.
std::vector<int> brute_force(int64_t budget_bits) {
  std::vector<int> best;
  double best_loss = 1e300;
  int64_t best_bits = 0;
  for (int code = 0; code < 256; ++code) {
    std::vector<int> w;
    double loss = 0;
    int64_t bits = 0;
    for (size_t l = 0; l < 4; ++l) {
      const size_t k = static_cast<size_t>(code >> (2 * l) & 3);
      w.push_back(kWidths[k]);
      loss += kLoss[l][k];
      bits += layer_bytes(l, kWidths[k]) * 8;
    }
    if (bits > budget_bits) continue;
    if (loss < best_loss || (loss == best_loss && bits < best_bits)) {
      best = w;
      best_loss = loss;
      best_bits = bits;
    }
  }
  return best;
}

TEST(MixedBitsStrategy, UniformThenOneProbePerLayerAndWidthThenAllocations) {
  Synthetic syn;
  syn.max_bpw = 3.5;
  const StrategyRun run = run_sequential(bpw_budget(3.5), syn);
  const MixedBitsStrategy& s = *run.strategy;
  ASSERT_GE(run.order.size(), 4u + 17u + 1u);
  for (size_t k = 0; k < 4; ++k) {
    const QuantConfig& c = s.trials()[static_cast<size_t>(run.order[k])];
    EXPECT_EQ(c.params["bits"], kWidths[k]) << "uniform trials first, in widths order";
    EXPECT_TRUE(c.overrides.empty() && c.fp32_layers.empty());
    EXPECT_FALSE(s.is_probe(run.order[k]));
    EXPECT_EQ(s.scored_on(run.order[k]), ScoredOn::kEvaluation);
  }
  // Then the probes, scored on the calibration set: first every layer fp32
  // (what the others' losses are measured against), then one layer at a time.
  ASSERT_TRUE(s.is_probe(run.order[4]));
  EXPECT_EQ(s.scored_on(run.order[4]), ScoredOn::kCalibration);
  EXPECT_EQ(widths_of(s.trials()[static_cast<size_t>(run.order[4])]), std::vector<int>(4, 0));
  std::set<std::pair<size_t, int>> probed;
  for (size_t k = 5; k < 21; ++k) {
    ASSERT_TRUE(s.is_probe(run.order[k])) << k;
    EXPECT_EQ(s.scored_on(run.order[k]), ScoredOn::kCalibration);
    const std::vector<int> w = widths_of(s.trials()[static_cast<size_t>(run.order[k])]);
    ASSERT_EQ(std::count(w.begin(), w.end(), 0), 3) << "one layer quantized alone";
    for (size_t l = 0; l < 4; ++l) {
      if (w[l] == 0) continue;
      probed.insert({l, w[l]});
      EXPECT_DOUBLE_EQ(*run.records[k].accuracy, kCalibrationFp32 * (1 + kLoss[l][width_pos(w[l])]))
          << "the probe measures that layer alone";
    }
  }
  EXPECT_EQ(probed.size(), 16u) << "every layer at every width";

  // Candidates: one per budget fraction (1, 0.97, 0.94, 0.91) unless two coincide.
  const int64_t total_bits_at_target = static_cast<int64_t>(3.5 * (4096 + 4096 + 16384 + 1024));
  ASSERT_FALSE(s.candidates().empty());
  ASSERT_EQ(run.order.size(), 21u + s.candidates().size());
  for (const auto& cand : s.candidates()) {
    EXPECT_FALSE(s.is_probe(cand.index));
    EXPECT_EQ(s.scored_on(cand.index), ScoredOn::kEvaluation);
    EXPECT_LE(cand.bits, static_cast<int64_t>(std::floor(total_bits_at_target * cand.fraction)));
    const auto bound = static_cast<int64_t>(std::floor(total_bits_at_target * cand.fraction));
    EXPECT_EQ(widths_of(s.trials()[static_cast<size_t>(cand.index)]), brute_force(bound))
        << "budget fraction " << cand.fraction;
  }
  EXPECT_EQ(s.candidates().front().fraction, 1.0);
  EXPECT_FALSE(s.trials()[static_cast<size_t>(s.candidates().front().index)].overrides.empty())
      << "the target's allocation mixes widths";
  EXPECT_GE(s.candidates().size(), 2u) << "the budgets below the target give other assignments";

  // The normal selection over the candidates (probes excluded, as the
  // coordinator does): the target's allocation, better than every uniform
  // width that fits 3.5 bits per weight (2 and 3 bits: 2.25 and 3.25).
  std::vector<TrialRecord> candidates;
  for (const auto& r : run.records)
    if (!s.is_probe(r.index)) candidates.push_back(r);
  const auto best = select_best(candidates, "accuracy", "mixed-bits");
  ASSERT_TRUE(best);
  EXPECT_EQ(candidates[*best].index, s.candidates().front().index);
  EXPECT_LE(candidates[*best].metrics["bits_per_weight"].get<double>(), 3.5);
  for (size_t k = 0; k < 2; ++k)
    EXPECT_LT(*candidates[*best].accuracy_loss, *run.records[k].accuracy_loss)
        << "uniform " << kWidths[k] << " bits";
}

TEST(MixedBitsStrategy, SizeBudgetCountsWhatTheModelStoresBesides) {
  const int64_t max_size = 12000;
  StrategyOptions o;
  o.objective = "size";
  o.max_size_bytes = max_size;
  const StrategyRun run = run_sequential(o, Synthetic{});
  const auto& cands = run.strategy->candidates();
  ASSERT_FALSE(cands.empty());
  for (const auto& c : cands) {
    const auto bound = static_cast<int64_t>(std::floor((max_size - kOtherBytes) * 8 * c.fraction));
    EXPECT_EQ(widths_of(run.strategy->trials()[static_cast<size_t>(c.index)]), brute_force(bound));
    for (const auto& r : run.records)
      if (r.index == c.index) EXPECT_LE(*r.size_bytes, max_size);
  }
}

TEST(MixedBitsStrategy, ProbesAreNotCountedInMaxTrials) {
  const StrategyRun run = run_sequential(bpw_budget(3.5, 6), Synthetic{});
  int64_t probes = 0;
  for (int64_t i : run.order) probes += run.strategy->is_probe(i);
  EXPECT_EQ(probes, 17) << "16 layer-and-width probes and the all-fp32 one";
  EXPECT_EQ(run.order.size() - static_cast<size_t>(probes), 6u) << "4 uniform + 2 candidates";
  EXPECT_EQ(run.strategy->candidates().size(), 2u);
}

TEST(MixedBitsStrategy, ProbesScoredOnTheEvaluationSetUseTheirRecordedLoss) {
  StrategyOptions o = bpw_budget(3.5);
  o.params["probe_data"] = "evaluation";
  const StrategyRun on_eval = run_sequential(o, Synthetic{});
  const StrategyRun on_calib = run_sequential(bpw_budget(3.5), Synthetic{});
  int64_t probes = 0;
  for (int64_t i : on_eval.order) {
    probes += on_eval.strategy->is_probe(i);
    EXPECT_EQ(on_eval.strategy->scored_on(i), ScoredOn::kEvaluation);
  }
  EXPECT_EQ(probes, 16) << "no all-fp32 probe: the baseline is the reference";
  // The same losses either way, so the same allocations.
  ASSERT_EQ(on_eval.strategy->candidates().size(), on_calib.strategy->candidates().size());
  for (size_t k = 0; k < on_eval.strategy->candidates().size(); ++k) {
    const auto& a = on_eval.strategy->candidates()[k];
    const auto& b = on_calib.strategy->candidates()[k];
    EXPECT_EQ(on_eval.strategy->trials()[static_cast<size_t>(a.index)].to_json(),
              on_calib.strategy->trials()[static_cast<size_t>(b.index)].to_json());
    EXPECT_NEAR(a.predicted_loss, b.predicted_loss, 1e-12);
  }
}

TEST(MixedBitsStrategy, WithoutTheAllFp32ProbeNoLayerHasALoss) {
  // The all-fp32 probe failed: the calibration values have nothing to be
  // measured against, so no allocation is proposed (and none is guessed).
  auto s = std::make_unique<MixedBitsStrategy>(std::vector<QuantConfig>{base()}, bpw_budget(3.5));
  const Synthetic syn;
  int64_t allocations = 0;
  while (auto i = s->next()) {
    TrialRecord r = syn.judge(*s, *i);
    const std::vector<int> w = widths_of(s->trials()[static_cast<size_t>(*i)]);
    if (s->is_probe(*i) && std::count(w.begin(), w.end(), 0) == 4) {
      r.status = "FAILED";
      r.accuracy.reset();
    }
    allocations += !s->is_probe(*i) && !s->trials()[static_cast<size_t>(*i)].overrides.empty();
    s->on_result(r);
  }
  EXPECT_TRUE(s->done());
  EXPECT_EQ(allocations, 0);
  EXPECT_TRUE(s->candidates().empty());
}

TEST(MixedBitsStrategy, OneLayerHasNoProbeBeyondItsUniformTrials) {
  Synthetic syn;
  syn.layers = 1;
  const StrategyRun run = run_sequential(bpw_budget(4.5), syn);
  for (int64_t i : run.order) EXPECT_FALSE(run.strategy->is_probe(i));
  // The widest that fits 4.5 bits per weight (4 + 0.25) is 4 bits: the
  // uniform 4-bit trial, already run, so nothing new to verify.
  EXPECT_EQ(run.order.size(), 4u);
  EXPECT_TRUE(run.strategy->candidates().empty());
}

TEST(MixedBitsStrategy, NeedsABudget) {
  StrategyOptions o;
  EXPECT_THROW(MixedBitsStrategy({base()}, o), Error);
}

TEST(MixedBitsStrategy, SameTrialsWhateverWorkersAndCompletionOrder) {
  const auto farm = [](int workers, uint64_t order_seed) {
    MixedBitsStrategy s({base()}, bpw_budget(3.5));
    testing::ShuffledExecutor ex(workers, order_seed);
    const Synthetic syn;
    FarmCallbacks cb;
    cb.on_result = [&](const TrialResult& r) { return syn.judge(s, r.index); };
    run_farm(s, ex, cb);
    EXPECT_EQ(s.in_flight(), 0);
    std::vector<Json> configs;
    for (int64_t i : ex.submitted) configs.push_back(s.trials()[static_cast<size_t>(i)].to_json());
    std::sort(configs.begin(), configs.end());
    return configs;
  };
  const auto one = farm(1, 1);
  EXPECT_GT(one.size(), 20u);
  for (int workers : {2, 3, 8})
    for (uint64_t order_seed : {1, 2})
      EXPECT_EQ(farm(workers, order_seed), one) << workers << " workers, order " << order_seed;
}

// Widths that carry their own group size: a layer's stored bytes depend on
// (bits, group), the allocation chooses among those pairs, and an override
// names the group only where it differs from the block's.
struct Format {
  int bits;
  int64_t group;  ///< -1: per channel, modelled as one scale per 1024 weights
  bool operator==(const Format& o) const { return bits == o.bits && group == o.group; }
};
const std::vector<Format> kFormats = {{2, 64}, {3, -1}, {3, 128}, {4, 128}};
const std::vector<std::vector<double>> kFormatLoss = {{0.06, 0.03, 0.02, 0.005},
                                                      {0.01, 0.006, 0.004, 0.001},
                                                      {0.04, 0.02, 0.01, 0.004},
                                                      {0.30, 0.08, 0.05, 0.01}};

int64_t format_bytes(size_t l, const Format& f) {
  const int64_t group = f.group < 0 ? 1024 : f.group;
  return kWeights[l] * f.bits / 8 + kWeights[l] / group * 4;
}

// Each layer's (bits, group) under `c`, as quantize() merges the overrides.
std::vector<Format> formats_of(const QuantConfig& c) {
  std::vector<Format> out;
  for (const std::string& layer : kLayers) {
    Json p = c.params;
    for (const auto& o : c.overrides)
      if (std::regex_match(layer, std::regex(o.name_regex))) p.update(o.params);
    out.push_back({p["bits"].get<int>(), p["group_size"].get<int64_t>()});
  }
  return out;
}

TEST(MixedBitsStrategy, WidthsWithGroupSizesAllocateAmongFormats) {
  StrategyOptions o = bpw_budget(3.3);
  o.params["widths"] = Json::parse(R"([{"bits": 2, "group_size": 64},
                                       {"bits": 3, "group_size": -1}, 3, 4])");
  o.params["probe_data"] = "evaluation";  // the judge below records every loss alike
  const auto judge = [](const QuantConfig& c, int64_t index) {
    TrialRecord r;
    r.index = index;
    r.status = "COMPLETED";
    double loss = 0;
    int64_t bytes = 0, weights = 0;
    r.metrics["layers"] = Json::array();
    const std::vector<Format> f = formats_of(c);
    for (size_t l = 0; l < kLayers.size(); ++l) {
      bool fp32 = false;
      for (const auto& p : c.fp32_layers)
        fp32 = fp32 || std::regex_match(kLayers[l], std::regex(p));
      Json j = {{"name", kLayers[l]}, {"quantized", !fp32}, {"weights", kWeights[l]}};
      if (!fp32) {
        const size_t k = static_cast<size_t>(std::find(kFormats.begin(), kFormats.end(), f[l]) -
                                             kFormats.begin());
        EXPECT_LT(k, kFormats.size()) << "a format that is not a width";
        j["weight_bytes"] = format_bytes(l, f[l]);
        loss += kFormatLoss[l][std::min(k, kFormats.size() - 1)];
        bytes += format_bytes(l, f[l]);
        weights += kWeights[l];
      }
      r.metrics["layers"].push_back(j);
    }
    r.metrics["bits_per_weight"] = static_cast<double>(bytes) * 8 / static_cast<double>(weights);
    r.accuracy_loss = loss;
    r.size_bytes = kOtherBytes + bytes;
    r.passed = true;
    return r;
  };
  MixedBitsStrategy s({base()}, o);
  std::vector<int64_t> order;
  while (auto i = s.next()) {
    order.push_back(*i);
    s.on_result(judge(s.trials()[static_cast<size_t>(*i)], *i));
  }
  ASSERT_TRUE(s.done());
  for (size_t k = 0; k < kFormats.size(); ++k) {
    const std::vector<Format> f = formats_of(s.trials()[static_cast<size_t>(order[k])]);
    EXPECT_EQ(f.front(), kFormats[k]) << "uniform trial " << k << " in widths order";
  }
  EXPECT_EQ(order.size(), 4u + 16u + s.candidates().size());

  const int64_t target = static_cast<int64_t>(3.3 * (4096 + 4096 + 16384 + 1024));
  ASSERT_FALSE(s.candidates().empty());
  bool some_group_override = false;
  for (const auto& cand : s.candidates()) {
    const auto bound = static_cast<int64_t>(std::floor(target * cand.fraction));
    // The least summed loss over all 4^4 format assignments within the bound.
    std::vector<Format> best;
    double best_loss = 1e300;
    for (int code = 0; code < 256; ++code) {
      std::vector<Format> f;
      double loss = 0;
      int64_t bits = 0;
      for (size_t l = 0; l < 4; ++l) {
        const size_t k = static_cast<size_t>(code >> (2 * l) & 3);
        f.push_back(kFormats[k]);
        loss += kFormatLoss[l][k];
        bits += format_bytes(l, kFormats[k]) * 8;
      }
      if (bits <= bound && loss < best_loss) best = f, best_loss = loss;
    }
    const QuantConfig& c = s.trials()[static_cast<size_t>(cand.index)];
    EXPECT_EQ(formats_of(c), best) << "budget fraction " << cand.fraction;
    for (const auto& ov : c.overrides) {
      const bool group_differs = ov.params.contains("group_size");
      some_group_override = some_group_override || group_differs;
      if (group_differs) EXPECT_NE(ov.params["group_size"], c.params["group_size"]);
    }
  }
  EXPECT_TRUE(some_group_override) << "the allocations mix group sizes";
}

TEST(MixedBitsStrategy, AWidthWithAGroupNeedsTheBaseToSetOne) {
  StrategyOptions o = bpw_budget(3.5);
  o.params["widths"] = Json::parse(R"([2, {"bits": 3, "group_size": 64}])");
  QuantConfig no_group;
  no_group.params = {{"bits", 4}};
  EXPECT_THROW(MixedBitsStrategy({no_group}, o), Error);
  EXPECT_NO_THROW(MixedBitsStrategy({base()}, o));
}

}  // namespace
}  // namespace qtune
