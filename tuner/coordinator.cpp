#include "tuner/coordinator.h"

#include <deque>

#include "common/error.h"

namespace qtune {

TrialExecutor::Event LocalExecutor::wait() {
  Event e;
  if (pending_) {
    Task task = std::move(*pending_);
    pending_.reset();
    e.result = runner_.run(task.index, task.config, task.on);
  }
  return e;
}

void LocalExecutor::submit(int worker, int64_t index, const QuantConfig& config, ScoredOn on) {
  QT_ASSERT(!pending_, "local worker given a second trial before the first ran");
  pending_ = Task{index, config, on};
}

void run_farm(Strategy& strategy, TrialExecutor& executor, const FarmCallbacks& cb) {
  int active = executor.num_workers();
  std::deque<int> idle;  // workers waiting for an answer, first come first served
  while (active > 0) {
    TrialExecutor::Event e = executor.wait();
    if (e.result) {
      const int64_t idx = e.result->index;
      QT_ASSERT(idx >= 0 && idx < strategy.num_trials(), "result for unknown trial ", idx);
      strategy.on_result(cb.on_result(*e.result));
    }
    idle.push_back(e.worker);
    const bool out_of_time = cb.out_of_time && cb.out_of_time();
    while (!idle.empty() && !out_of_time) {
      const std::optional<int64_t> next = strategy.next();
      if (!next) break;
      if (cb.on_start) cb.on_start(*next, idle.front());
      executor.submit(idle.front(), *next, strategy.trials()[static_cast<size_t>(*next)],
                      strategy.scored_on(*next));
      idle.pop_front();
    }
    // Done (or out of time) never turns back: idle workers can go now while
    // others finish. Otherwise they wait for the generation's last results.
    if (out_of_time || strategy.done()) {
      for (int w : idle) executor.stop(w);
      active -= static_cast<int>(idle.size());
      idle.clear();
    }
    QT_ASSERT(active == 0 || strategy.in_flight() > 0 || idle.empty(),
              "every worker idle, none stopped, and nothing in flight");
  }
  QT_ASSERT(strategy.in_flight() == 0, "farm ended with trials in flight");
}

}  // namespace qtune
