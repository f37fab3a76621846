#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_source.h"
#include "common/json.h"
#include "models/builtin.h"
#include "models/training_record.h"

namespace qtune::cli {

namespace {

std::filesystem::path location_of(const BuiltinInfo& m) {
  return m.path.empty() ? m.cache_file : m.path;
}

// Written when the model was trained; absent for weights an older qtune cached.
std::optional<Json> training_record_of(const BuiltinInfo& m) {
  if (!m.cached) return std::nullopt;
  return read_training_record(training_record_path(location_of(m)));
}

}  // namespace

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
    for (const auto& m : models) {
      const std::optional<Json> record = training_record_of(m);
      out.push_back({{"spec", m.spec},
                     {"description", m.description},
                     {"cached", m.cached},
                     {"path", location_of(m).string()},
                     {"weights_hash", record ? record->value("weights_hash", "") : ""},
                     {"trained_with", record ? record->value("trained_with", Json()) : Json()}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-26s %-8s %-16s %s\n", "MODEL", "CACHED", "WEIGHTS HASH", "DESCRIPTION");
  for (const auto& m : models) {
    const std::optional<Json> record = training_record_of(m);
    const std::string hash = record ? record->value("weights_hash", "") : "";
    std::printf("%-26s %-8s %-16s %s\n", m.spec.c_str(), m.cached ? "yes" : "no",
                hash.empty() ? "-" : hash.c_str(), m.description.c_str());
  }
  std::printf("cache: %s\n", cache_dir.string().c_str());
  return 0;
}

}  // namespace qtune::cli
