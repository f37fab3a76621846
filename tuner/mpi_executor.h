// The MPI side of the task farm: rank 0's executor and the workers' loop.
#pragma once

#include "tuner/coordinator.h"
#include "tuner/trial_runner.h"

namespace qtune {

/// Rank 0's view of ranks 1..size-1 (worker w is rank w+1).
class MpiExecutor : public TrialExecutor {
 public:
  explicit MpiExecutor(int world_size) : workers_(world_size - 1) {}
  int num_workers() const override { return workers_; }
  Event wait() override;
  void submit(int worker, int64_t index, const QuantConfig& config, ScoredOn on) override;
  void stop(int worker) override;

 private:
  int workers_;
};

/// A worker rank's loop: ask for work, run each TASK, send its RESULT, until STOP.
/// A trial that throws becomes a FAILED result; the worker goes on.
void run_mpi_worker(TrialRunner& runner);

}  // namespace qtune
