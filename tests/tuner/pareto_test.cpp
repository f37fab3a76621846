// Pareto dominance and the front over (accuracy loss, size, p50 latency), on
// hand-made points, and objective pareto's pick with `select`.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/error.h"
#include "tuner/selection.h"
#include "tuner/trial.h"
#include "tuner/tuning_config.h"

namespace qtune {
namespace {

TrialRecord pt(int64_t index, double loss, int64_t size, double p50, bool passed = true,
               const std::string& status = "COMPLETED") {
  TrialRecord t;
  t.id = 1000 + index;
  t.index = index;
  t.status = status;
  t.accuracy = 1.0 - loss;
  t.accuracy_loss = loss;
  t.size_bytes = size;
  t.latency_ms_p50 = p50;
  t.passed = passed;
  return t;
}

std::vector<int64_t> front_indices(const std::vector<TrialRecord>& v) {
  std::vector<int64_t> out;
  for (size_t i : pareto_front(v)) out.push_back(v[i].index);
  return out;
}

TEST(Dominates, NoWorseInAllAndBetterInOne) {
  EXPECT_TRUE(dominates(pt(0, 0.01, 100, 1.0), pt(1, 0.02, 100, 1.0)));   // loss only
  EXPECT_TRUE(dominates(pt(0, 0.01, 100, 1.0), pt(1, 0.01, 101, 1.0)));   // size only
  EXPECT_TRUE(dominates(pt(0, 0.01, 100, 1.0), pt(1, 0.01, 100, 1.5)));   // latency only
  EXPECT_TRUE(dominates(pt(0, 0.01, 100, 1.0), pt(1, 0.02, 200, 2.0)));   // all three
  EXPECT_FALSE(dominates(pt(0, 0.01, 100, 1.0), pt(1, 0.01, 100, 1.0)));  // equal: neither
  EXPECT_FALSE(dominates(pt(0, 0.01, 100, 2.0), pt(1, 0.02, 200, 1.0)));  // a trade-off
  EXPECT_FALSE(dominates(pt(1, 0.02, 200, 1.0), pt(0, 0.01, 100, 2.0)));
  EXPECT_FALSE(dominates(pt(1, 0.02, 100, 1.0), pt(0, 0.01, 100, 1.0)));  // worse loss
}

TEST(Dominates, ExactNoTolerance) {
  // A difference far below any noise still counts: no tie rule.
  EXPECT_TRUE(dominates(pt(0, 0.01, 100, 1.0), pt(1, 0.01, 100, 1.0 + 1e-12)));
  EXPECT_FALSE(dominates(pt(1, 0.01, 100, 1.0 + 1e-12), pt(0, 0.01, 100, 1.0)));
}

TEST(Dominates, MissingValueIsWorst) {
  TrialRecord no_latency = pt(1, 0.01, 100, 0);
  no_latency.latency_ms_p50.reset();
  EXPECT_TRUE(dominates(pt(0, 0.01, 100, 5.0), no_latency));
  EXPECT_FALSE(dominates(no_latency, pt(0, 0.01, 100, 5.0)));
  // Both missing the same value: equal there, decided by the others.
  TrialRecord other = no_latency;
  other.size_bytes = 99;
  EXPECT_TRUE(dominates(other, no_latency));
}

TEST(ParetoFront, HandMadePoints) {
  // 0: accurate and big; 1: small and lossy; 2: fast; 3 is dominated by 0
  // (worse in all three); 4 is dominated by 1 (same loss and size, slower).
  const std::vector<TrialRecord> v{pt(0, 0.001, 400, 2.0), pt(1, 0.02, 100, 2.0),
                                   pt(2, 0.01, 300, 0.5), pt(3, 0.002, 500, 3.0),
                                   pt(4, 0.02, 100, 2.5)};
  EXPECT_EQ(front_indices(v), (std::vector<int64_t>{0, 1, 2}));
}

TEST(ParetoFront, DuplicatesAreAllKept) {
  const std::vector<TrialRecord> v{pt(0, 0.01, 100, 1.0), pt(1, 0.01, 100, 1.0),
                                   pt(2, 0.02, 200, 2.0)};
  EXPECT_EQ(front_indices(v), (std::vector<int64_t>{0, 1}));
}

TEST(ParetoFront, TiesInOneCoordinate) {
  // Equal size, a trade-off between loss and latency: both on the front.
  const std::vector<TrialRecord> v{pt(0, 0.01, 100, 2.0), pt(1, 0.02, 100, 1.0)};
  EXPECT_EQ(front_indices(v), (std::vector<int64_t>{0, 1}));
}

TEST(ParetoFront, OnePointAndEmpty) {
  EXPECT_EQ(front_indices({pt(7, 0.5, 1, 1)}), (std::vector<int64_t>{7}));
  EXPECT_TRUE(front_indices({}).empty());
  // One point dominating all others is a front of one.
  EXPECT_EQ(front_indices({pt(0, 0.02, 200, 2), pt(1, 0.01, 100, 1), pt(2, 0.03, 300, 3)}),
            (std::vector<int64_t>{1}));
}

TEST(ParetoFront, OnlyPassingCompletedTrialsTakePart) {
  // Trial 1 would dominate everything, but it missed the constraints; trial 2 failed.
  const std::vector<TrialRecord> v{pt(0, 0.01, 200, 2.0), pt(1, 0.0, 50, 0.1, false),
                                   pt(2, 0.0, 50, 0.1, true, "FAILED"), pt(3, 0.02, 100, 2.0)};
  EXPECT_EQ(front_indices(v), (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(front_indices({pt(0, 0.01, 1, 1, false)}).empty());
}

// Properties on random integer points (many ties and duplicates, seed fixed):
// no front point is dominated by a passing trial, every passing trial off
// the front is dominated by a front point, and input order does not matter.
TEST(ParetoFront, PropertiesOnRandomPoints) {
  std::mt19937 rng(20240521);
  std::uniform_int_distribution<int> small(0, 4);
  for (int round = 0; round < 200; ++round) {
    std::vector<TrialRecord> v;
    const int n = 1 + round % 17;
    for (int i = 0; i < n; ++i)
      v.push_back(pt(i, small(rng) / 100.0, 100 + small(rng), 1.0 + small(rng), small(rng) != 0));
    const auto front = front_indices(v);
    size_t passing = 0;
    for (const auto& t : v) passing += t.passed.value();
    if (passing > 0) EXPECT_FALSE(front.empty()) << "round " << round;
    for (const auto& t : v) {
      if (!t.passed.value()) {
        EXPECT_EQ(std::count(front.begin(), front.end(), t.index), 0);
        continue;
      }
      const bool on = std::count(front.begin(), front.end(), t.index) > 0;
      bool dominated_by_any = false, dominated_by_front = false;
      for (const auto& u : v) {
        if (!u.passed.value() || !dominates(u, t)) continue;
        dominated_by_any = true;
        dominated_by_front |= std::count(front.begin(), front.end(), u.index) > 0;
      }
      EXPECT_EQ(on, !dominated_by_any) << "round " << round << " trial " << t.index;
      if (!on) EXPECT_TRUE(dominated_by_front) << "round " << round << " trial " << t.index;
    }
    std::vector<TrialRecord> reversed(v.rbegin(), v.rend());
    auto back = front_indices(reversed);
    std::sort(back.begin(), back.end());
    EXPECT_EQ(back, front) << "round " << round;
  }
}

int64_t pick(const std::vector<TrialRecord>& v, const std::string& select,
             const std::string& strategy = "exhaustive") {
  const auto b = select_best(v, "pareto", strategy, select);
  return b ? v[*b].index : -1;
}

TEST(SelectBest, ParetoPicksFromTheFrontBySelect) {
  // Front = {0, 1, 2}: 3 is dominated by 2 (same size, more loss, slower),
  // 4 would win everything but missed the constraints.
  const std::vector<TrialRecord> v{pt(0, 0.001, 400, 2.0), pt(1, 0.02, 100, 2.0),
                                   pt(2, 0.01, 300, 0.5), pt(3, 0.015, 300, 0.9),
                                   pt(4, 0.0, 50, 0.1, false)};
  EXPECT_EQ(pick(v, "size"), 1);
  EXPECT_EQ(pick(v, "accuracy"), 0);
  EXPECT_EQ(pick(v, "latency"), 2);
  // first-pass keeps its rule: the first passing trial.
  EXPECT_EQ(pick(v, "size", "first-pass"), 0);
  EXPECT_EQ(pick({pt(0, 0.1, 1, 1, false)}, "size"), -1);
  EXPECT_THROW(pick(v, "speed"), Error);
}

TEST(SelectBest, ParetoChoosesOnlyAmongTheFront) {
  // Same size and loss: objective size alone falls to the lower index (5),
  // which trial 6 dominates by being faster; pareto + size picks 6.
  const std::vector<TrialRecord> v{pt(5, 0.01, 100, 2.0), pt(6, 0.01, 100, 1.0),
                                   pt(7, 0.0, 300, 3.0)};
  EXPECT_EQ(front_indices(v), (std::vector<int64_t>{6, 7}));
  const auto plain = select_best(v, "size", "exhaustive");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(v[*plain].index, 5);
  EXPECT_EQ(pick(v, "size"), 6);
  EXPECT_EQ(pick(v, "accuracy"), 7);
}

const std::string kSpace = "search_space:\n  - algorithm: rtn\n";

std::string parse_error(const std::string& yaml) {
  try {
    parse_tuning_config(yaml + kSpace, "t.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TuningConfigPareto, ObjectiveAndSelectParsed) {
  const TuningConfig c =
      parse_tuning_config("objective: pareto\nselect: latency\n" + kSpace, "t.yaml");
  EXPECT_EQ(c.objective, "pareto");
  EXPECT_EQ(c.select, "latency");
  EXPECT_EQ(parse_tuning_config("objective: pareto\n" + kSpace, "t.yaml").select, "size");
  EXPECT_EQ(parse_error("objective: pareto\nselect: speed\n"),
            "t.yaml: select: expected one of size, accuracy, latency, got speed");
  EXPECT_EQ(parse_error("objective: size\nselect: size\n"),
            "t.yaml: select: picks the best of a Pareto front: needs objective: pareto, got "
            "objective: size");
}

TEST(TuningConfigPareto, SelectIsPartOfTheIdentityOnlyWithPareto) {
  const auto h = [](const std::string& y) {
    return config_hash(parse_tuning_config(y + kSpace, "t.yaml").identity_json());
  };
  EXPECT_NE(h("objective: pareto\nselect: size\n"), h("objective: pareto\nselect: accuracy\n"));
  EXPECT_EQ(h("objective: pareto\n"), h("objective: pareto\nselect: size\n"));
  EXPECT_FALSE(
      parse_tuning_config("objective: size\n" + kSpace, "t.yaml").to_json().contains("select"));
}

}  // namespace
}  // namespace qtune
