// A fake farm for strategy tests: `workers` workers, trials completing in a
// seeded random order (out of order whenever more than one is in flight).
// Each result is a bare COMPLETED; the test's FarmCallbacks::on_result judges
// it (a synthetic objective), as the coordinator would.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "tuner/coordinator.h"

namespace qtune::testing {

class ShuffledExecutor : public TrialExecutor {
 public:
  ShuffledExecutor(int workers, uint64_t seed) : workers_(workers), rng_(seed) {}
  int num_workers() const override { return workers_; }
  Event wait() override {
    Event e;
    if (ready_ < workers_) {
      e.worker = ready_++;
      return e;
    }
    EXPECT_FALSE(running_.empty()) << "wait() with nothing in flight would block forever";
    const size_t k = static_cast<size_t>(rng_() % running_.size());
    auto [worker, index] = running_[k];
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(k));
    e.worker = worker;
    TrialResult r;
    r.index = index;
    r.status = "COMPLETED";
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
  std::mt19937_64 rng_;
  std::vector<std::pair<int, int64_t>> running_;
};

}  // namespace qtune::testing
