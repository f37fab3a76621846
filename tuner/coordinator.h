// The coordinator's task farm, independent of how trials reach workers:
// in-process (LocalExecutor) or over MPI (MpiExecutor, tuner/mpi_executor.h).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "quantizers/quantizer.h"
#include "tuner/strategy.h"
#include "tuner/trial.h"
#include "tuner/trial_runner.h"

namespace qtune {

/// How the coordinator reaches its workers. Workers are numbered 0..num_workers()-1.
class TrialExecutor {
 public:
  struct Event {
    int worker = 0;
    std::optional<TrialResult> result;  ///< none: the worker just asked for work
  };
  virtual ~TrialExecutor() = default;
  virtual int num_workers() const = 0;
  /// Blocks until a worker asks for work (with or without a result).
  virtual Event wait() = 0;
  virtual void submit(int worker, int64_t index, const QuantConfig& config, ScoredOn on) = 0;
  /// No more work for this worker.
  virtual void stop(int worker) = 0;
};

/// One worker in the coordinator's own process: a submitted trial runs
/// synchronously inside the next wait().
class LocalExecutor : public TrialExecutor {
 public:
  explicit LocalExecutor(TrialRunner& runner) : runner_(runner) {}
  int num_workers() const override { return 1; }
  Event wait() override;
  void submit(int worker, int64_t index, const QuantConfig& config, ScoredOn on) override;
  void stop(int worker) override {}

 private:
  struct Task {
    int64_t index;
    QuantConfig config;
    ScoredOn on;
  };
  TrialRunner& runner_;
  std::optional<Task> pending_;
};

struct FarmCallbacks {
  /// A trial is handed out (record it as RUNNING).
  std::function<void(int64_t index, int worker)> on_start;
  /// A trial ended; returns it as recorded (judged against the constraints):
  /// what the strategy is told.
  std::function<TrialRecord(const TrialResult& result)> on_result;
  /// Whether to stop handing out work (the run's timeout).
  std::function<bool()> out_of_time;
};

/// Hands trials out as workers free up (a dynamic farm: no static split),
/// in the strategy's order, until the strategy is done (or time is out) and
/// every trial in flight has reported; then stops every worker. A worker that
/// asks while the strategy waits for the rest of a generation is answered
/// once a result makes new work available.
void run_farm(Strategy& strategy, TrialExecutor& executor, const FarmCallbacks& callbacks);

}  // namespace qtune
