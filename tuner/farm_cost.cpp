#include "tuner/farm_cost.h"

#include <time.h>

namespace qtune {

namespace {
double clock_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

double thread_cpu_seconds() { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }
double process_cpu_seconds() { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }
double wall_seconds() { return clock_seconds(CLOCK_MONOTONIC); }

Json FarmCost::to_json() const {
  Json j = {{"results", results},
            {"wall_s", wall_s},
            {"thread_cpu_s", thread_cpu_s},
            {"process_cpu_s", process_cpu_s},
            {"db_writes", db_writes},
            {"db_write_wall_s", db_write_wall_s},
            {"db_write_cpu_s", db_write_cpu_s}};
  const auto per_trial_ms = [&](double seconds) {
    return results > 0 ? Json(seconds * 1e3 / static_cast<double>(results)) : Json();
  };
  j["thread_cpu_ms_per_trial"] = per_trial_ms(thread_cpu_s);
  j["process_cpu_ms_per_trial"] = per_trial_ms(process_cpu_s);
  j["db_write_ms_per_trial"] = per_trial_ms(db_write_wall_s);
  j["db_write_cpu_ms_per_trial"] = per_trial_ms(db_write_cpu_s);
  j["trials_per_hour"] =
      results > 0 && wall_s > 0 ? Json(static_cast<double>(results) / wall_s * 3600) : Json();
  return j;
}

}  // namespace qtune
