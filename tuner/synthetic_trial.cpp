#include "tuner/synthetic_trial.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "common/error.h"

namespace qtune {

double parse_synthetic_trial(const std::string& text) {
  size_t used = 0;
  double seconds = NAN;
  try {
    seconds = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  QT_CHECK(used > 0 && used == text.size() && seconds > 0 && seconds <= 3600,
           "QTUNE_SYNTHETIC_TRIAL: expected seconds in (0, 3600], got '", text, "'");
  return seconds;
}

std::optional<double> synthetic_trial_from_env() {
  const char* v = std::getenv("QTUNE_SYNTHETIC_TRIAL");
  if (!v) return std::nullopt;
  return parse_synthetic_trial(v);
}

void run_synthetic_trial(TrialResult& r, double seconds) {
  // A sleep, not a busy loop: 64 ranks share 2 cores in the benchmark, and a
  // trial that computed would measure the cores rather than the farm.
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  r.status = "COMPLETED";
  r.metrics["synthetic_trial_s"] = seconds;
}

}  // namespace qtune
