#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "tuner/autotune.h"

namespace qtune::cli {

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
  // A failed export was reported on stderr (and in --json); the run itself is recorded.
  return run_tuning(config, options).export_failed() ? 1 : 0;
}

}  // namespace qtune::cli
