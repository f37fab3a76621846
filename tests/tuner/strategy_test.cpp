// Strategies fed results in chosen orders, and the farm driven by a fake
// executor that completes trials out of order.
#include "tuner/strategy.h"

#include <gtest/gtest.h>

#include <set>

#include "common/error.h"
#include "tuner/coordinator.h"
#include "tuner/strategies/first_pass.h"

namespace qtune {
namespace {

// Configs told apart by one param; the grid strategies only look at positions.
std::vector<QuantConfig> space_of(int64_t n) {
  std::vector<QuantConfig> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)].params = {{"k", i}};
  return out;
}

StrategyOptions unlimited() {
  StrategyOptions o;
  o.max_trials = 1000;
  return o;
}

TrialRecord finished(int64_t index, bool passed) {
  TrialRecord r;
  r.index = index;
  r.status = "COMPLETED";
  r.accuracy = passed ? 1.0 : 0.0;
  r.accuracy_loss = passed ? 0.0 : 1.0;
  r.passed = passed;
  return r;
}

std::vector<int64_t> drain(Strategy& s) {
  std::vector<int64_t> out;
  while (auto i = s.next()) out.push_back(*i);
  return out;
}

TEST(ExhaustiveStrategy, EveryTrialInOrderWhateverPasses) {
  auto s = Strategy::create("exhaustive", space_of(4), unlimited());
  EXPECT_EQ(*s->next(), 0);
  s->on_result(finished(0, true));
  EXPECT_EQ(drain(*s), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(s->in_flight(), 3);
  for (int64_t i : {3, 1, 2}) s->on_result(finished(i, true));
  EXPECT_EQ(s->in_flight(), 0);
  EXPECT_FALSE(s->next());
}

TEST(ExhaustiveStrategy, ResumedTrialsAreNotHandedOutAgain) {
  auto s = Strategy::create("exhaustive", space_of(5), unlimited());
  s->mark_finished(finished(1, false));
  s->mark_finished(finished(3, true));
  EXPECT_EQ(drain(*s), (std::vector<int64_t>{0, 2, 4}));
}

TEST(Strategy, UnknownNameIsAnError) {
  EXPECT_THROW(Strategy::create("bayesian", space_of(3), unlimited()), Error);
}

TEST(ExhaustiveStrategy, MaxTrialsCutsTheSpaceInOrder) {
  StrategyOptions o;
  o.max_trials = 3;
  auto s = Strategy::create("exhaustive", space_of(5), o);
  EXPECT_EQ(s->num_trials(), 3);
  EXPECT_EQ(drain(*s), (std::vector<int64_t>{0, 1, 2}));
}

TEST(FirstPassStrategy, StopsHandingOutAboveAKnownPass) {
  FirstPassStrategy s(space_of(6), unlimited());
  EXPECT_EQ(*s.next(), 0);
  EXPECT_EQ(*s.next(), 1);
  EXPECT_EQ(*s.next(), 2);
  s.on_result(finished(2, true));  // finishes first, out of order
  EXPECT_FALSE(s.next()) << "indices above a pass can no longer win";
  EXPECT_EQ(s.in_flight(), 2) << "lower indices still in flight must be waited for";
  s.on_result(finished(1, true));
  s.on_result(finished(0, false));
  EXPECT_EQ(*s.lowest_pass(), 1) << "the lowest passing index wins, not the first to finish";
}

TEST(FirstPassStrategy, LowerPassArrivingLaterWins) {
  FirstPassStrategy s(space_of(6), unlimited());
  for (int i = 0; i < 4; ++i) s.next();
  s.on_result(finished(3, true));
  s.on_result(finished(2, false));
  s.on_result(finished(0, true));
  s.on_result(finished(1, true));
  EXPECT_EQ(*s.lowest_pass(), 0);
  EXPECT_FALSE(s.next());
}

TEST(FirstPassStrategy, NoPassRunsEverything) {
  FirstPassStrategy s(space_of(3), unlimited());
  for (int64_t i : drain(s)) s.on_result(finished(i, false));
  EXPECT_FALSE(s.lowest_pass());
}

TEST(FirstPassStrategy, ResumeWithAPassOnlyRunsLowerPendingOnes) {
  FirstPassStrategy s(space_of(6), unlimited());
  s.mark_finished(finished(0, false));
  s.mark_finished(finished(3, true));
  EXPECT_EQ(drain(s), (std::vector<int64_t>{1, 2}));
  s.on_result(finished(2, false));
  s.on_result(finished(1, false));
  EXPECT_EQ(*s.lowest_pass(), 3);
}

// Completes the most recently submitted trial first (LIFO): the worst case
// for "first" meaning "lowest index".
class LifoExecutor : public TrialExecutor {
 public:
  LifoExecutor(int workers, std::set<int64_t> passing)
      : workers_(workers), passing_(std::move(passing)) {}
  int num_workers() const override { return workers_; }
  Event wait() override {
    Event e;
    if (ready_ < workers_) {
      e.worker = ready_++;
      return e;
    }
    EXPECT_FALSE(running_.empty()) << "wait() with nothing in flight would block forever";
    auto [worker, index] = running_.back();
    running_.pop_back();
    e.worker = worker;
    TrialResult r;
    r.index = index;
    r.status = "COMPLETED";
    r.accuracy = passing_.count(index) ? 1.0 : 0.0;
    e.result = r;
    return e;
  }
  void submit(int worker, int64_t index, const QuantConfig&, ScoredOn) override {
    submitted.push_back(index);
    running_.emplace_back(worker, index);
  }
  void stop(int worker) override { stopped.insert(worker); }

  std::vector<int64_t> submitted;
  std::set<int> stopped;

 private:
  int workers_;
  int ready_ = 0;
  std::set<int64_t> passing_;
  std::vector<std::pair<int, int64_t>> running_;
};

TEST(RunFarm, FirstPassOutOfOrderPicksLowestPassingIndex) {
  FirstPassStrategy s(space_of(8), unlimited());
  LifoExecutor ex(3, {2, 4, 5});
  std::vector<int64_t> reported;
  FarmCallbacks cb;
  cb.on_result = [&](const TrialResult& r) {
    reported.push_back(r.index);
    return finished(r.index, r.accuracy.value() > 0.5);
  };
  run_farm(s, ex, cb);
  EXPECT_EQ(*s.lowest_pass(), 2);
  // Hand-traced: 0,1,2 out; 2 passes first (LIFO), so nothing above 2 is ever handed out.
  EXPECT_EQ(ex.submitted, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(reported, (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(ex.stopped, (std::set<int>{0, 1, 2})) << "every worker is stopped";
}

TEST(RunFarm, ExhaustiveRunsEveryTrialOnceAndStopsEveryWorker) {
  auto s = Strategy::create("exhaustive", space_of(7), unlimited());
  LifoExecutor ex(3, {});
  std::multiset<int64_t> reported;
  FarmCallbacks cb;
  cb.on_result = [&](const TrialResult& r) {
    reported.insert(r.index);
    return finished(r.index, false);
  };
  run_farm(*s, ex, cb);
  EXPECT_EQ(reported, (std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ex.stopped.size(), 3u);
}

TEST(RunFarm, OutOfTimeStopsTheHandOutButWaitsForInFlight) {
  auto s = Strategy::create("exhaustive", space_of(10), unlimited());
  LifoExecutor ex(2, {});
  int results = 0;
  FarmCallbacks cb;
  cb.on_result = [&](const TrialResult& r) { return ++results, finished(r.index, false); };
  cb.out_of_time = [&] { return results >= 3; };
  run_farm(*s, ex, cb);
  EXPECT_EQ(static_cast<int>(ex.submitted.size()), results) << "every submitted trial reported";
  EXPECT_LT(ex.submitted.size(), 10u);
  EXPECT_EQ(s->in_flight(), 0);
}

}  // namespace
}  // namespace qtune
