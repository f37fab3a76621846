// The replay harness behind bench_strategy_replay: on a hand-made table whose
// best is known, it stops at the first trial that is a best one, hands out
// what the strategy proposes in the strategy's order, and reads the table
// back from its CSV form unchanged.
#include "tuner/strategy_replay.h"

#include <gtest/gtest.h>

#include <set>

#include "common/error.h"
#include "tuner/trial.h"
#include "tuner/trials_csv.h"

namespace qtune {
namespace {

// rtn bits {2, 3, 4, 8} x group_size {32, 128, -1}: 12 trials in space order
// (group fastest). Size: 1000 bytes a bit plus 300 / 100 / 10 for the scales
// of each group size. Loss: 5% at 2 bits; at 3 bits 0.8% with g32, else 2%;
// 0.2% at 4 bits; 0 at 8. With a 1% limit the passing ones are W3 g32 (3300
// bytes, trial 3), every W4 (4300, 4100, 4010) and W8, so the smallest
// passing one -- the best by size -- is trial 3 alone.
std::vector<TrialRecord> hand_table() {
  std::vector<TrialRecord> out;
  for (int bits : {2, 3, 4, 8})
    for (int group : {32, 128, -1}) {
      const QuantConfig c = QuantConfig::from_json(
          Json{{"algorithm", "rtn"}, {"params", {{"bits", bits}, {"group_size", group}}}}, "test");
      TrialRecord r;
      r.index = static_cast<int64_t>(out.size());
      r.config = c.to_json();
      r.config_hash = config_hash(c);
      r.algorithm = "rtn";
      r.backend = "auto";
      r.status = "COMPLETED";
      r.size_bytes = bits * 1000 + (group == 32 ? 300 : group == 128 ? 100 : 10);
      r.accuracy_loss = bits == 2   ? 0.05
                        : bits == 3 ? (group == 32 ? 0.008 : 0.02)
                        : bits == 4 ? 0.002
                                    : 0.0;
      r.accuracy = 50.0 * (1.0 + *r.accuracy_loss);  // a perplexity
      r.passed = *r.accuracy_loss <= 0.01;
      out.push_back(r);
    }
  return out;
}

StrategyOptions size_options(uint64_t seed) {
  StrategyOptions o;
  o.seed = seed;
  o.max_trials = 12;
  o.objective = "size";
  return o;
}

// The outcome is consistent: the trials are distinct, the last is a best one
// and none before it is.
void expect_stops_at_first_best(const ReplayOutcome& out, const std::set<int64_t>& best) {
  ASSERT_GE(out.trials_to_best, 1);
  ASSERT_EQ(static_cast<int64_t>(out.order.size()), out.trials_to_best);
  EXPECT_EQ(std::set<int64_t>(out.order.begin(), out.order.end()).size(), out.order.size());
  EXPECT_TRUE(best.count(out.order.back())) << "stopped at trial " << out.order.back();
  for (size_t k = 0; k + 1 < out.order.size(); ++k)
    EXPECT_FALSE(best.count(out.order[k])) << "a best trial at position " << k << " was passed by";
}

TEST(StrategyReplay, BestOfTableIsTheSmallestPassing) {
  const auto table = hand_table();
  EXPECT_EQ(best_of_table(table, "size"), std::vector<int64_t>{3});
  // By accuracy every W8 trial (loss 0) ties.
  EXPECT_EQ(best_of_table(table, "accuracy"), (std::vector<int64_t>{9, 10, 11}));
}

TEST(StrategyReplay, ExhaustiveReachesTheBestAtItsPosition) {
  const ReplayOutcome out = replay_until_best("exhaustive", hand_table(), size_options(1));
  EXPECT_EQ(out.trials_to_best, 4);
  EXPECT_EQ(out.order, (std::vector<int64_t>{0, 1, 2, 3}));
  // With ties the first of them in space order ends it.
  auto by_accuracy = size_options(1);
  by_accuracy.objective = "accuracy";
  EXPECT_EQ(replay_until_best("exhaustive", hand_table(), by_accuracy).trials_to_best, 10);
}

TEST(StrategyReplay, RandomFollowsItsOwnDrawOrder) {
  const auto table = hand_table();
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const ReplayOutcome out = replay_until_best("random", table, size_options(seed));
    expect_stops_at_first_best(out, {3});
    // random proposes its whole permutation in one generation: asked without
    // results, the strategy itself gives the order the replay must follow.
    std::vector<QuantConfig> space;
    for (const auto& r : table) space.push_back(QuantConfig::from_json(r.config, "test"));
    auto direct = Strategy::create("random", space, size_options(seed));
    for (int64_t expected : out.order) EXPECT_EQ(direct->next(), expected);
  }
}

TEST(StrategyReplay, TpeReachesTheBest) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    expect_stops_at_first_best(replay_until_best("tpe", hand_table(), size_options(seed)), {3});
  }
}

TEST(StrategyReplay, ReadsTheTableBackFromCsv) {
  const auto table = hand_table();
  const auto read = parse_trials_csv(format_trials_csv(table), "table.csv");
  ASSERT_EQ(read.size(), table.size());
  for (size_t k = 0; k < table.size(); ++k) {
    EXPECT_EQ(read[k].index, table[k].index);
    // The CSV stores the canonical form (sorted keys); the same object either way.
    EXPECT_EQ(canonical_json(read[k].config), canonical_json(table[k].config));
    EXPECT_EQ(read[k].config_hash, table[k].config_hash);
    EXPECT_EQ(read[k].accuracy, table[k].accuracy);
    EXPECT_EQ(read[k].accuracy_loss, table[k].accuracy_loss);
    EXPECT_EQ(read[k].size_bytes, table[k].size_bytes);
    EXPECT_EQ(read[k].passed, table[k].passed);
    EXPECT_EQ(read[k].status, table[k].status);
  }
  for (uint64_t seed = 1; seed <= 3; ++seed)
    EXPECT_EQ(replay_until_best("tpe", read, size_options(seed)).order,
              replay_until_best("tpe", table, size_options(seed)).order);
}

TEST(StrategyReplay, RejectsATableThatIsNotOneRun) {
  auto twice = hand_table();
  twice[5].index = 4;
  EXPECT_THROW(replay_until_best("random", twice, size_options(1)), Error);
  auto edited = hand_table();
  edited[2].config["params"]["bits"] = 3;  // the hash no longer matches
  try {
    replay_until_best("random", edited, size_options(1));
    ADD_FAILURE() << "an edited config was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trial 2 config: expected config_hash"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace qtune
