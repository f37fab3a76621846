// Which trial to run next, and when to stop (DESIGN.md layer 7).
//
// A strategy sees trials by their index in the expanded search space. The
// coordinator asks next() whenever a worker is free and reports every result
// through on_result(); the run ends when next() has nothing more and no trial
// is in flight. Trials finished in an earlier run (resume) are reported with
// mark_finished() before the first next() and are never handed out again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qtune {

class Strategy {
 public:
  explicit Strategy(int64_t num_trials);
  virtual ~Strategy() = default;

  /// "exhaustive" | "first-pass"; qtune::Error for anything else.
  static std::unique_ptr<Strategy> create(const std::string& name, int64_t num_trials);

  /// The next index to hand out, or nullopt when nothing more will be handed out.
  virtual std::optional<int64_t> next();
  /// A handed-out trial ended; `passed` = it met every constraint.
  virtual void on_result(int64_t index, bool passed);
  /// A trial that already ended in an earlier run.
  void mark_finished(int64_t index, bool passed);

  int64_t num_trials() const { return static_cast<int64_t>(state_.size()); }
  int64_t in_flight() const { return in_flight_; }

 protected:
  enum class State { kPending, kRunning, kDone };
  std::vector<State> state_;
  int64_t cursor_ = 0;  ///< every index below it is running or done
  int64_t in_flight_ = 0;
};

/// Every trial in space order.
using ExhaustiveStrategy = Strategy;

/// INC's first-pass ("basic" with timeout=0): stop at the first config that
/// meets the constraints. Under parallel execution trials end out of order,
/// so "first" means the LOWEST INDEX that passes, as in a sequential run:
/// once index p passes, no index above p is handed out, and the run waits for
/// the lower indices still in flight (one of them may pass and win instead).
class FirstPassStrategy : public Strategy {
 public:
  using Strategy::Strategy;
  std::optional<int64_t> next() override;
  void on_result(int64_t index, bool passed) override;
  /// The lowest passing index seen so far.
  std::optional<int64_t> lowest_pass() const { return lowest_pass_; }

 private:
  std::optional<int64_t> lowest_pass_;
};

}  // namespace qtune
