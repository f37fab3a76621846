// random and tpe on synthetic objectives with a known optimum, the Parzen
// estimator against values worked by hand, and generations: the trials a
// strategy proposes do not depend on completion order, worker count or resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <set>

#include "tests/support/shuffled_executor.h"
#include "tuner/coordinator.h"
#include "tuner/strategies/parzen.h"
#include "tuner/strategies/tpe.h"
#include "tuner/strategy.h"

namespace qtune {
namespace {

// 6 x 5 x 5 = 150 configs: an integer "bits" and two categorical params.
std::vector<QuantConfig> synthetic_space() {
  std::vector<QuantConfig> out;
  for (int bits : {1, 2, 3, 4, 6, 8})
    for (const char* mode : {"m0", "m1", "m2", "m3", "m4"})
      for (const char* kind : {"k0", "k1", "k2", "k3", "k4"}) {
        QuantConfig c;
        c.params = {{"bits", bits}, {"mode", mode}, {"kind", kind}};
        out.push_back(c);
      }
  return out;
}

// Separable, one optimum: bits 4, mode m3, kind k1 (loss 0).
double synthetic_loss(const QuantConfig& c) {
  const int bits = c.params["bits"].get<int>();
  const std::string mode = c.params["mode"], kind = c.params["kind"];
  const double mode_cost[] = {0.6, 0.5, 0.4, 0.0, 0.3};
  const double kind_cost[] = {0.35, 0.0, 0.2, 0.45, 0.3};
  return std::abs(bits - 4) * 0.1 + mode_cost[mode[1] - '0'] + kind_cost[kind[1] - '0'];
}

TrialRecord judged(const Strategy& s, int64_t index) {
  TrialRecord r;
  r.index = index;
  r.status = "COMPLETED";
  r.accuracy_loss = synthetic_loss(s.trials()[static_cast<size_t>(index)]);
  r.accuracy = 1.0 - *r.accuracy_loss;
  r.passed = true;
  return r;
}

StrategyOptions options(uint64_t seed, int64_t max_trials) {
  StrategyOptions o;
  o.seed = seed;
  o.max_trials = max_trials;
  o.objective = "accuracy";
  return o;
}

// Runs a strategy to the end with one sequential worker; the trials in hand-out order.
std::vector<int64_t> run_sequential(Strategy& s) {
  std::vector<int64_t> order;
  while (auto i = s.next()) {
    order.push_back(*i);
    s.on_result(judged(s, *i));
  }
  EXPECT_TRUE(s.done());
  return order;
}

int64_t trials_to_optimum(const std::string& name, uint64_t seed) {
  auto s = Strategy::create(name, synthetic_space(), options(seed, 150));
  const std::vector<int64_t> order = run_sequential(*s);
  for (size_t k = 0; k < order.size(); ++k)
    if (synthetic_loss(s->trials()[static_cast<size_t>(order[k])]) == 0.0)
      return static_cast<int64_t>(k) + 1;
  ADD_FAILURE() << name << " seed " << seed << " never ran the optimum";
  return 1000;
}

TEST(RandomStrategy, DrawsMaxTrialsDistinctConfigsSeeded) {
  auto a = Strategy::create("random", synthetic_space(), options(3, 40));
  auto b = Strategy::create("random", synthetic_space(), options(3, 40));
  auto c = Strategy::create("random", synthetic_space(), options(4, 40));
  const auto oa = run_sequential(*a), ob = run_sequential(*b), oc = run_sequential(*c);
  ASSERT_EQ(oa.size(), 40u);
  EXPECT_EQ(std::set<int64_t>(oa.begin(), oa.end()).size(), 40u) << "no config twice";
  EXPECT_EQ(oa, ob) << "same seed, same trials";
  EXPECT_NE(oa, oc) << "another seed, other trials";
  std::vector<int64_t> sorted = oa;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(oa, sorted) << "not the space order";
}

TEST(RandomStrategy, BudgetLargerThanTheSpaceRunsItAllOnce) {
  auto s = Strategy::create("random", synthetic_space(), options(1, 1000));
  auto order = run_sequential(*s);
  std::sort(order.begin(), order.end());
  std::vector<int64_t> all(150);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(order, all);
}

TEST(TpeStrategy, SameSeedSameTrials) {
  for (uint64_t seed : {1, 2}) {
    auto a = Strategy::create("tpe", synthetic_space(), options(seed, 30));
    auto b = Strategy::create("tpe", synthetic_space(), options(seed, 30));
    const auto oa = run_sequential(*a);
    EXPECT_EQ(oa.size(), 30u);
    EXPECT_EQ(oa, run_sequential(*b)) << "seed " << seed;
    EXPECT_EQ(std::set<int64_t>(oa.begin(), oa.end()).size(), oa.size()) << "no config twice";
  }
}

TEST(TpeStrategy, ReachesTheOptimumInClearlyFewerTrialsThanRandom) {
  double tpe = 0, random = 0;
  const int seeds = 20;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    tpe += static_cast<double>(trials_to_optimum("tpe", seed));
    random += static_cast<double>(trials_to_optimum("random", seed));
  }
  tpe /= seeds;
  random /= seeds;
  // Random needs (150 + 1) / 2 = 75.5 trials on average for one optimum in 150.
  EXPECT_GT(random, 50.0) << "random's mean over " << seeds << " seeds looks wrong";
  EXPECT_LT(tpe, 0.6 * random) << "tpe " << tpe << " vs random " << random;
}

TEST(TpeStrategy, StartupTrialsComeFirstThenGenerationsOfFixedSize) {
  auto s = Strategy::create("tpe", synthetic_space(), options(5, 20));
  std::vector<int64_t> first;
  while (auto i = s->next()) first.push_back(*i);
  EXPECT_EQ(static_cast<int64_t>(first.size()), TpeStrategy::kStartupTrials);
  for (int64_t i : first) s->on_result(judged(*s, i));
  std::vector<int64_t> second;
  while (auto i = s->next()) second.push_back(*i);
  EXPECT_EQ(static_cast<int64_t>(second.size()), TpeStrategy::kGeneration)
      << "the next generation is decided only once all results are in";
}

// Out-of-order completion with any number of workers: the same trials.
using testing::ShuffledExecutor;

std::set<int64_t> farm_trials(const std::string& strategy, int workers, uint64_t order_seed) {
  auto s = Strategy::create(strategy, synthetic_space(), options(11, 26));
  ShuffledExecutor ex(workers, order_seed);
  FarmCallbacks cb;
  cb.on_result = [&](const TrialResult& r) { return judged(*s, r.index); };
  run_farm(*s, ex, cb);
  EXPECT_EQ(static_cast<int>(ex.stopped.size()), workers) << "every worker is stopped";
  EXPECT_EQ(s->in_flight(), 0);
  return std::set<int64_t>(ex.submitted.begin(), ex.submitted.end());
}

TEST(RunFarm, SamplingStrategiesProposeTheSameTrialsWhateverWorkersAndOrder) {
  for (const std::string name : {"random", "tpe"}) {
    const auto one = farm_trials(name, 1, 1);
    EXPECT_EQ(one.size(), 26u) << name;
    for (int workers : {2, 3, 8})
      for (uint64_t order_seed : {1, 2, 3})
        EXPECT_EQ(farm_trials(name, workers, order_seed), one)
            << name << " with " << workers << " workers, completion order " << order_seed;
  }
}

TEST(TpeStrategy, ResumeProposesTheSameTrialsAsAnUninterruptedRun) {
  auto whole = Strategy::create("tpe", synthetic_space(), options(9, 25));
  const auto all = run_sequential(*whole);
  ASSERT_EQ(all.size(), 25u);
  // The first 17 finished in an earlier run (mid third generation).
  auto resumed = Strategy::create("tpe", synthetic_space(), options(9, 25));
  for (size_t k = 0; k < 17; ++k) resumed->mark_finished(judged(*resumed, all[k]));
  const auto rest = run_sequential(*resumed);
  std::set<int64_t> together(all.begin(), all.begin() + 17);
  together.insert(rest.begin(), rest.end());
  EXPECT_EQ(rest.size(), 8u) << "finished trials are not run again";
  EXPECT_EQ(together, std::set<int64_t>(all.begin(), all.end()));
}

TEST(Parzen, DefaultWeightsAndGammaAsOptuna) {
  EXPECT_EQ(tpe_default_weights(3), (std::vector<double>{1, 1, 1}));
  // n = 27: linspace(1/27, 1, 2) then 25 ones.
  const auto w = tpe_default_weights(27);
  ASSERT_EQ(w.size(), 27u);
  EXPECT_DOUBLE_EQ(w[0], 1.0 / 27);
  EXPECT_DOUBLE_EQ(w[1], 1.0);
  EXPECT_DOUBLE_EQ(w[26], 1.0);
  EXPECT_EQ(tpe_default_gamma(1), 1u);
  EXPECT_EQ(tpe_default_gamma(10), 1u);
  EXPECT_EQ(tpe_default_gamma(11), 2u);
  EXPECT_EQ(tpe_default_gamma(1000), 25u);
}

TEST(Parzen, CategoricalWorkedByHand) {
  // 3 choices, observations {0, 0, 2}, prior weight 1: each observation's
  // kernel is (1/4 + [observed]) / (3/4 + 1); kernel weights 1, 1, 1, prior 1
  // (each 1/4); the prior is uniform.
  ParzenParameter p;
  p.values = {0, 1, 2};
  ParzenEstimator e(p, {0, 0, 2});
  const double hit = 1.25 / 1.75, miss = 0.25 / 1.75;
  EXPECT_NEAR(e.pmf(0), 0.25 * (hit + hit + miss) + 0.25 / 3, 1e-12);
  EXPECT_NEAR(e.pmf(1), 0.25 * (miss + miss + miss) + 0.25 / 3, 1e-12);
  EXPECT_NEAR(e.pmf(2), 0.25 * (miss + miss + hit) + 0.25 / 3, 1e-12);
  EXPECT_NEAR(e.pmf(0) + e.pmf(1) + e.pmf(2), 1.0, 1e-12);
}

TEST(Parzen, IntegerMassSumsToOneOverTheRangeAndPeaksAtObservations) {
  ParzenParameter p;
  p.integer = true;
  for (int v = 1; v <= 9; ++v) p.values.push_back(v);
  ParzenEstimator e(p, {7, 7, 8});  // indices: values 8, 8, 9
  double total = 0;
  for (size_t i = 0; i < p.values.size(); ++i) total += e.pmf(i);
  EXPECT_NEAR(total, 1.0, 1e-9) << "discretized mass over [low - 0.5, high + 0.5]";
  EXPECT_GT(e.pmf(7), e.pmf(0));
  EXPECT_GT(e.pmf(7), e.pmf(4));
  // No observation: the prior alone, centred: symmetric.
  ParzenEstimator prior(p, {});
  EXPECT_NEAR(prior.pmf(0), prior.pmf(8), 1e-12);
  EXPECT_GT(prior.pmf(4), prior.pmf(0));
}

}  // namespace
}  // namespace qtune
