#include <cstdio>
#include <iostream>
#include <map>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/error.h"
#include "tuner/autotune.h"

namespace qtune::cli {

namespace {

// A run whose every trial failed produced nothing, usually for one reason (a
// worker that cannot reach the model cache fails them all alike): name it.
void check_some_trial_completed(const TuneSummary& s) {
  if (!s.is_coordinator || s.trials.empty()) return;
  std::map<std::string, int64_t> count;
  for (const TrialRecord& t : s.trials) {
    if (t.status == "COMPLETED") return;
    ++count[t.status == "TIMEOUT" && t.error.empty() ? "timed out" : t.error];
  }
  auto commonest = count.begin();
  for (auto it = count.begin(); it != count.end(); ++it)
    if (it->second > commonest->second) commonest = it;
  const std::string error = commonest->first.substr(0, commonest->first.find('\n'));
  throw Error(detail::concat(s.db_path.string(), ": all ", s.trials.size(), " trials of run ",
                             s.run_id, " failed; the commonest error (", commonest->second, " of ",
                             s.trials.size(), "): ", error.empty() ? "no message" : error));
}

}  // namespace

int cmd_tune(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"config", true, false, "tuning config YAML (default configs/default.yaml)"},
      {"out", true, false, "output directory: results.db and best/ (default qtune-out)"},
      {"resume", false, false,
       "continue the run with this config in --out, skipping finished trials"},
      {"json", false, false, "print a JSON summary instead of the results table"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      {"help", false, false, "show this help"},
  };
  Args args("tune", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("tune", "[--config FILE] [--out DIR] [--resume] [--json]", flags);
    return 0;
  }
  args.reject_positionals();
  TuningConfig config = load_tuning_config(args.get_or("config", "configs/default.yaml"));
  TuneOptions options;
  options.out_dir = args.get_or("out", "qtune-out");
  options.cache_dir = args.get_or("cache-dir", "");
  options.resume = args.has("resume");
  options.json = args.has("json");
  options.print_table = !options.json;
  options.progress = stderr_is_terminal() && !options.json;
  const TuneSummary summary = run_tuning(config, options);
  check_some_trial_completed(summary);
  // A failed export was reported on stderr (and in --json); the run itself is recorded.
  return summary.export_failed() ? 1 : 0;
}

}  // namespace qtune::cli
