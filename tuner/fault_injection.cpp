#include "tuner/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>

#include "common/error.h"

namespace qtune {

std::map<int64_t, std::string> parse_crash_trials(const std::string& text) {
  std::map<int64_t, std::string> out;
  std::stringstream ss(text);
  std::string entry;
  while (std::getline(ss, entry, ',')) {
    const size_t colon = entry.find(':');
    const std::string index = entry.substr(0, colon);
    const std::string kind = colon == std::string::npos ? "" : entry.substr(colon + 1);
    const bool digits =
        !index.empty() && index.find_first_not_of("0123456789") == std::string::npos;
    QT_CHECK(digits && (kind == "segv" || kind == "abort" || kind == "kill" || kind == "hang"),
             "QTUNE_CRASH_TRIAL: entry '", entry,
             "': expected INDEX:KIND with KIND segv, abort, kill or hang");
    out[std::stoll(index)] = kind;
  }
  return out;
}

std::map<int64_t, std::string> crash_trials_from_env() {
  const char* v = std::getenv("QTUNE_CRASH_TRIAL");
  return v ? parse_crash_trials(v) : std::map<int64_t, std::string>{};
}

void crash_now(const std::string& kind) {
  if (kind == "abort") std::abort();
  if (kind == "kill") ::raise(SIGKILL);
  if (kind == "hang") {
    // Asleep, not spinning: a hung trial's test costs its timeout, not a core.
    while (true) ::pause();
  }
  // A genuine invalid write, as an algorithm bug would make; volatile so the
  // compiler cannot drop it. Into page 0 but not at null itself: a null store
  // is one that UBSan stops before it happens (scripts/sanitize.sh), and the
  // point is the signal.
  volatile int* volatile nowhere = reinterpret_cast<int*>(uintptr_t{64});
  *nowhere = 1;
  std::abort();  // unreachable unless page 0 is mapped
}

}  // namespace qtune
