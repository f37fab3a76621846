#include "models/work_units.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

#include "models/compute_threads.h"

namespace qtune {
namespace {

thread_local int t_unit_threads = 1;

}  // namespace

int work_unit_threads() { return t_unit_threads; }

WorkUnitThreadsScope::WorkUnitThreadsScope(int n) : previous_(t_unit_threads) {
  t_unit_threads = std::max(1, n);
}

WorkUnitThreadsScope::~WorkUnitThreadsScope() { t_unit_threads = previous_; }

void for_each_unit(int64_t units, const std::function<void(int64_t unit)>& fn) {
  if (units <= 0) return;
  // One compute thread for the caller's units, and for the helpers': ATen
  // reads this count when a new thread first runs a parallel region.
  ComputeThreadsScope one(1);
  const auto threads = static_cast<int>(std::min<int64_t>(work_unit_threads(), units));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(units));
  std::atomic<int64_t> next{0};
  const bool grad = at::GradMode::is_enabled();
  const auto work = [&](bool helper) {
    if (helper) {
      // A new thread has OpenMP's default team size and grad mode on: match
      // the caller's (one thread; its grad mode) before the first unit.
      at::set_num_threads(1);
    }
    at::AutoGradMode grad_mode(grad);
    WorkUnitThreadsScope inline_nested(1);  // a unit's own for_each_unit runs in place
    for (int64_t u = next++; u < units; u = next++) {
      try {
        fn(u);
      } catch (...) {
        errors[static_cast<size_t>(u)] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) helpers.emplace_back(work, true);
  work(false);
  for (auto& h : helpers) h.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace qtune
