#include "tuner/strategy.h"

#include "common/error.h"

namespace qtune {

Strategy::Strategy(int64_t num_trials) : state_(static_cast<size_t>(num_trials), State::kPending) {}

std::unique_ptr<Strategy> Strategy::create(const std::string& name, int64_t num_trials) {
  if (name == "exhaustive") return std::make_unique<ExhaustiveStrategy>(num_trials);
  if (name == "first-pass") return std::make_unique<FirstPassStrategy>(num_trials);
  throw Error("unknown strategy \"" + name + "\" (expected exhaustive or first-pass)");
}

std::optional<int64_t> Strategy::next() {
  while (cursor_ < num_trials() && state_[cursor_] != State::kPending) ++cursor_;
  if (cursor_ >= num_trials()) return std::nullopt;
  state_[cursor_] = State::kRunning;
  ++in_flight_;
  return cursor_++;
}

void Strategy::on_result(int64_t index, bool passed) {
  QT_ASSERT(index >= 0 && index < num_trials(), "trial index ", index, " out of range");
  QT_ASSERT(state_[index] == State::kRunning, "result for trial ", index, " that was not running");
  state_[index] = State::kDone;
  --in_flight_;
}

void Strategy::mark_finished(int64_t index, bool passed) {
  QT_ASSERT(index >= 0 && index < num_trials(), "trial index ", index, " out of range");
  QT_ASSERT(state_[index] == State::kPending, "trial ", index, " marked finished twice");
  state_[index] = State::kRunning;
  ++in_flight_;
  on_result(index, passed);
}

std::optional<int64_t> FirstPassStrategy::next() {
  if (lowest_pass_) {
    // Only indices below the known pass can still change the outcome.
    while (cursor_ < *lowest_pass_ && state_[cursor_] != State::kPending) ++cursor_;
    if (cursor_ >= *lowest_pass_) return std::nullopt;
  }
  return Strategy::next();
}

void FirstPassStrategy::on_result(int64_t index, bool passed) {
  Strategy::on_result(index, passed);
  if (passed && (!lowest_pass_ || index < *lowest_pass_)) lowest_pass_ = index;
}

}  // namespace qtune
