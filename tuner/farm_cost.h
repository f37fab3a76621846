// What the coordinator (rank 0) spends on the farm: CPU and wall time from
// the first wait to the last worker stopped, and the share of it that went to
// database writes. `qtune tune --json` reports it ("farm"); the scaling
// benchmark (scripts/scaling_bench.sh) divides it by the trials.
#pragma once

#include <cstdint>

#include "common/json.h"

namespace qtune {

/// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID), seconds.
double thread_cpu_seconds();
/// The whole process's CPU time (CLOCK_PROCESS_CPUTIME_ID), seconds: with
/// MPI's own progress threads, but without forked children.
double process_cpu_seconds();
/// Monotonic wall clock, seconds.
double wall_seconds();

struct FarmCost {
  int64_t results = 0;         ///< trial results received
  double wall_s = 0;           ///< the farm's wall time
  double thread_cpu_s = 0;     ///< the coordinator thread's CPU time in the farm
  double process_cpu_s = 0;    ///< rank 0's process CPU time in the farm
  int64_t db_writes = 0;       ///< trial rows written (RUNNING, then the result)
  double db_write_wall_s = 0;  ///< wall time inside those writes (commits wait for the disk)
  double db_write_cpu_s = 0;   ///< thread CPU time inside those writes

  /// The fields above, plus per-result means in ms ("thread_cpu_ms_per_trial",
  /// "process_cpu_ms_per_trial", "db_write_ms_per_trial", "db_write_cpu_ms_per_trial")
  /// and "trials_per_hour" of wall time; the means are null with no result.
  Json to_json() const;
};

/// Adds the wall and thread CPU time of its scope to a FarmCost's db write totals.
class DbWriteTimer {
 public:
  explicit DbWriteTimer(FarmCost& cost)
      : cost_(cost), wall0_(wall_seconds()), cpu0_(thread_cpu_seconds()) {}
  ~DbWriteTimer() {
    cost_.db_write_wall_s += wall_seconds() - wall0_;
    cost_.db_write_cpu_s += thread_cpu_seconds() - cpu0_;
    ++cost_.db_writes;
  }
  DbWriteTimer(const DbWriteTimer&) = delete;
  DbWriteTimer& operator=(const DbWriteTimer&) = delete;

 private:
  FarmCost& cost_;
  double wall0_, cpu0_;
};

}  // namespace qtune
