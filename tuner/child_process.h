// Crash isolation: a piece of work (a trial, the baseline) runs in a forked
// child of the worker, which already holds the loaded model (copy-on-write:
// nothing is reloaded). A segfault, abort or out-of-memory kill then ends the
// child, not the worker.
//
// GNU OpenMP (libgomp, LibTorch's and oneDNN's runtime here) is not fork-safe:
// once a process has run a parallel region with more than one thread, a forked
// child that enters one waits forever for the parent's pool threads, which do
// not exist in the child. So a process that forks keeps itself at one compute
// thread (ATen then runs no parallel region) and leaves multi-threaded work to
// its children (tuner/autotune.cpp).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/json.h"

namespace qtune {

struct ChildOutcome {
  std::optional<Json> value;  ///< what `body` returned
  /// When `value` is empty, one line: the exception `body` threw, or how the
  /// child died ("trial crashed: SIGSEGV (signal 11)", what = "trial").
  std::string error;
  /// The child was still running at the time limit and was killed (SIGKILL).
  bool timed_out = false;
  /// The child's peak resident set (getrusage's ru_maxrss, from wait4), in
  /// bytes, however it ended. A forked child starts with its parent's resident
  /// pages, so this is the peak of the whole process doing the work: the
  /// loaded model and the work's own memory.
  int64_t peak_rss_bytes = 0;
};

/// Runs `body` in a forked child that makes itself the kernel's first choice
/// for an out-of-memory kill (oom_score_adj 1000), and returns its JSON over a
/// pipe. Never throws for the child's own failure; `what` names the work in
/// the crash message. With `timeout_s` > 0 a child that has not finished
/// that many seconds after the fork is killed (SIGKILL): a hung trial (a
/// deadlock, an endless loop) cannot hold its worker.
ChildOutcome run_in_child(const std::function<Json()>& body, const std::string& what,
                          double timeout_s = 0);

/// "SIGSEGV" for 11; "signal N" for a number without a name.
std::string signal_name(int signal);

}  // namespace qtune
