// Deterministic parallel work: a computation cut into fixed units (batches of
// evaluation windows, layers to quantize), each unit run on one thread with
// one compute thread, the results combined by the caller in unit order. The
// thread count then changes how fast, never what: each unit computes exactly
// what it computes alone, and no reduction is split across threads.
#pragma once

#include <cstdint>
#include <functional>

namespace qtune {

/// Threads for_each_unit uses when called on this thread (default 1).
int work_unit_threads();

/// Sets work_unit_threads() of this thread for a scope (n < 1 means 1).
class WorkUnitThreadsScope {
 public:
  explicit WorkUnitThreadsScope(int n);
  ~WorkUnitThreadsScope();
  WorkUnitThreadsScope(const WorkUnitThreadsScope&) = delete;
  WorkUnitThreadsScope& operator=(const WorkUnitThreadsScope&) = delete;

 private:
  int previous_;
};

/// Calls fn(u) once for each u in [0, units), on up to work_unit_threads()
/// threads (the caller's among them), taking units in order as threads free
/// up. Every call runs with one compute thread (models/compute_threads.h) and
/// the caller's grad mode; fn must write only its unit's results. When units
/// throw, every unit still runs and the lowest-numbered unit's exception is
/// rethrown, so the error does not depend on the thread count either.
void for_each_unit(int64_t units, const std::function<void(int64_t unit)>& fn);

}  // namespace qtune
