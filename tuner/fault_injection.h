// Fault injection for chaos testing crash isolation (README "Crash isolation"):
// QTUNE_CRASH_TRIAL=INDEX:KIND[,INDEX:KIND...] makes trial INDEX of the
// expanded space crash for real when it starts: KIND segv (a null write),
// abort (std::abort), kill (SIGKILL, what the out-of-memory killer sends) or
// hang (sleeps until killed, as a deadlock would: trial_timeout's test).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace qtune {

/// Trial index -> kind. Throws qtune::Error naming the variable and the bad entry.
std::map<int64_t, std::string> parse_crash_trials(const std::string& text);

/// parse_crash_trials($QTUNE_CRASH_TRIAL), empty when it is not set.
std::map<int64_t, std::string> crash_trials_from_env();

/// Crashes (or hangs) this process the way `kind` says.
[[noreturn]] void crash_now(const std::string& kind);

}  // namespace qtune
