// for_each_unit: every unit runs once on any thread count, on one compute
// thread with the caller's grad mode, nested calls run in place, and the
// lowest unit's error is the one rethrown.
#include "models/work_units.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "models/compute_threads.h"

namespace qtune {
namespace {

TEST(WorkUnits, EveryUnitRunsOnceWhateverTheThreadCount) {
  for (int threads : {1, 2, 3, 8}) {
    WorkUnitThreadsScope scope(threads);
    std::vector<std::atomic<int>> runs(37);
    std::mutex mu;
    std::set<std::thread::id> ids;
    for_each_unit(37, [&](int64_t u) {
      ++runs[static_cast<size_t>(u)];
      // Long enough that every helper gets some units.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    for (size_t u = 0; u < runs.size(); ++u) EXPECT_EQ(runs[u], 1) << threads << " threads";
    EXPECT_LE(ids.size(), static_cast<size_t>(threads));
    if (threads > 1) EXPECT_GT(ids.size(), 1u) << "units spread over threads";
  }
  EXPECT_EQ(work_unit_threads(), 1) << "the scope restores the default";
  for_each_unit(0, [](int64_t) { ADD_FAILURE() << "no unit to run"; });
}

TEST(WorkUnits, EachUnitHasOneComputeThreadTheCallersGradModeAndRunsNestedWorkInPlace) {
  ComputeThreadsScope two(2);
  WorkUnitThreadsScope scope(3);
  for (bool grad : {false, true}) {
    at::AutoGradMode mode(grad);
    std::vector<int> compute(9), nested(9);
    std::vector<char> grad_seen(9);
    for_each_unit(9, [&](int64_t u) {
      const auto i = static_cast<size_t>(u);
      compute[i] = at::get_num_threads();
      grad_seen[i] = at::GradMode::is_enabled();
      nested[i] = work_unit_threads();
    });
    for (size_t i = 0; i < 9; ++i) {
      EXPECT_EQ(compute[i], 1) << "unit " << i;
      EXPECT_EQ(grad_seen[i] != 0, grad) << "unit " << i;
      EXPECT_EQ(nested[i], 1) << "unit " << i;
    }
  }
  EXPECT_EQ(compute_threads(), 2) << "the caller's compute threads come back";
  EXPECT_EQ(work_unit_threads(), 3);
}

TEST(WorkUnits, TheLowestUnitsErrorIsRethrownAfterEveryUnitRan) {
  for (int threads : {1, 3}) {
    WorkUnitThreadsScope scope(threads);
    std::atomic<int> ran{0};
    try {
      for_each_unit(12, [&](int64_t u) {
        ++ran;
        if (u == 9) throw std::runtime_error("unit 9");
        if (u == 4) throw std::runtime_error("unit 4");
      });
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "unit 4") << threads << " threads";
    }
    EXPECT_EQ(ran, 12) << threads << " threads";
  }
}

}  // namespace
}  // namespace qtune
