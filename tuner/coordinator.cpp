#include "tuner/coordinator.h"

#include "common/error.h"

namespace qtune {

TrialExecutor::Event LocalExecutor::wait() {
  Event e;
  if (pending_) {
    auto [index, config] = std::move(*pending_);
    pending_.reset();
    e.result = runner_.run(index, config);
  }
  return e;
}

void LocalExecutor::submit(int worker, int64_t index, const QuantConfig& config) {
  QT_ASSERT(!pending_, "local worker given a second trial before the first ran");
  pending_.emplace(index, config);
}

void run_farm(Strategy& strategy, TrialExecutor& executor, const std::vector<QuantConfig>& trials,
              const FarmCallbacks& cb) {
  QT_ASSERT(strategy.num_trials() == static_cast<int64_t>(trials.size()),
            "strategy and trial list disagree");
  int active = executor.num_workers();
  while (active > 0) {
    TrialExecutor::Event e = executor.wait();
    if (e.result) {
      const int64_t idx = e.result->index;
      QT_ASSERT(idx >= 0 && idx < strategy.num_trials(), "result for unknown trial ", idx);
      strategy.on_result(idx, cb.on_result(*e.result));
    }
    // Once next() has nothing it never will (the strategies only narrow), so
    // an idle worker can be stopped right away while others finish.
    std::optional<int64_t> next;
    if (!(cb.out_of_time && cb.out_of_time())) next = strategy.next();
    if (next) {
      if (cb.on_start) cb.on_start(*next, e.worker);
      executor.submit(e.worker, *next, trials[*next]);
    } else {
      executor.stop(e.worker);
      --active;
    }
  }
  QT_ASSERT(strategy.in_flight() == 0, "farm ended with trials in flight");
}

}  // namespace qtune
