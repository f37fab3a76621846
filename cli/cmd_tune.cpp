#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/error.h"
#include "tuner/autotune.h"
#include "tuner/mpi_comm.h"
#include "tuner/report.h"
#include "tuner/strategy_extent.h"

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

// The whole space, not cut at max_trials: the sampling strategies draw from all of it.
void print_space(const TuningConfig& config, bool json) {
  const std::vector<QuantConfig> space = expand_search_space(config, /*cut_at_max_trials=*/false);
  const int64_t size = static_cast<int64_t>(space.size());
  const StrategyExtent extent = strategy_extent(config, size);
  if (json) {
    Json configs = Json::array();
    for (const auto& c : space) configs.push_back(c.to_json());
    std::cout << Json{{"size", size},
                      {"strategy", config.strategy},
                      {"max_trials", config.max_trials},
                      {"trials_at_most", extent.trials_at_most},
                      {"probes_per_layer", extent.probes_per_layer},
                      {"configs", configs}}
                     .dump(2)
              << "\n";
    return;
  }
  std::vector<Json> as_json;
  for (const auto& c : space) as_json.push_back(c.to_json());
  const std::set<std::string> varying = varying_params(as_json);
  for (size_t i = 0; i < space.size(); ++i) {
    std::string line = std::to_string(i) + "  " + space[i].algorithm + "  " +
                       describe_params(as_json[i], varying) + "  backend=" + space[i].backend;
    for (const auto& o : space[i].overrides)
      line += "  override[" + (o.name_regex.empty() ? o.layer_type : o.name_regex) +
              "]=" + o.params.dump();
    std::cout << line << "\n";
  }
  std::cout << "search space: " << size << " configs; " << extent.text << "\n";
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
      {"no-isolation", false, false,
       "run trials in the worker's own process (debugging: a crash ends the run); "
       "wins over the config's isolation: true"},
      {"no-broadcast", false, false,
       "under mpirun, every rank reads the model and data from its own filesystem instead of "
       "rank 0 sending them to each node"},
      {"threads", true, false,
       "threads per trial on each rank (default: the rank's share of the node's cores); the "
       "recorded results are the same for any count"},
      {"print-space", false, false,
       "print the expanded search space and its size, run nothing (with --json: as JSON)"},
      {"help", false, false, "show this help"},
  };
  Args args("tune", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("tune", "[--config FILE] [--out DIR] [--resume] [--json] [--print-space]",
                       flags);
    return 0;
  }
  args.reject_positionals();
  const auto threads = static_cast<int>(args.get_int("threads", 0));
  if (args.has("threads") && threads < 1)
    throw UsageError("qtune tune: --threads must be at least 1, got " + args.required("threads"));
  const bool broadcast = !args.has("no-broadcast");
  // A worker on another node gets the data files from rank 0: it cannot check them yet.
  const DataFiles data_files =
      broadcast && launched_rank() > 0 ? DataFiles::kNamed : DataFiles::kReadable;
  TuningConfig config =
      load_tuning_config(args.get_or("config", "configs/default.yaml"), data_files);
  if (args.has("print-space")) {
    print_space(config, args.has("json"));
    return 0;
  }
  TuneOptions options;
  options.out_dir = args.get_or("out", "qtune-out");
  options.cache_dir = args.get_or("cache-dir", "");
  options.resume = args.has("resume");
  options.json = args.has("json");
  options.isolation = !args.has("no-isolation");
  options.broadcast = broadcast;
  options.threads = threads;
  options.print_table = !options.json;
  options.progress = stderr_is_terminal() && !options.json;
  const TuneSummary summary = run_tuning(config, options);
  check_some_trial_completed(summary);
  // A failed export was reported on stderr (and in --json); the run itself is recorded.
  return summary.export_failed() ? 1 : 0;
}

}  // namespace qtune::cli
