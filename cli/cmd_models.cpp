#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/json.h"
#include "models/builtin.h"

namespace qtune::cli {

int cmd_models(int argc, char** argv) {
  const std::vector<FlagSpec> flags = {
      {"json", false, false, "print JSON"},
      {"cache-dir", true, false, "where trained built-in models are cached"},
      {"help", false, false, "show this help"},
  };
  Args args("models", flags, argc, argv, 2);
  if (args.has("help")) {
    std::cout << usage("models", "[--json] [--cache-dir DIR]", flags);
    return 0;
  }
  args.reject_positionals();
  const auto cache_dir = cache_dir_arg(args.get_or("cache-dir", ""));
  const auto models = list_builtin_models(cache_dir);
  if (args.has("json")) {
    Json out = Json::array();
    for (const auto& m : models)
      out.push_back({{"spec", m.spec},
                     {"description", m.description},
                     {"cached", m.cached},
                     {"path", (m.path.empty() ? m.cache_file : m.path).string()}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-26s %-8s %s\n", "MODEL", "CACHED", "DESCRIPTION");
  for (const auto& m : models)
    std::printf("%-26s %-8s %s\n", m.spec.c_str(), m.cached ? "yes" : "no", m.description.c_str());
  std::printf("cache: %s\n", cache_dir.string().c_str());
  return 0;
}

}  // namespace qtune::cli
