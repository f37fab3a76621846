#include "cli/backend_flag.h"

#include <algorithm>
#include <map>
#include <set>

#include "backends/backend_list.h"
#include "common/error.h"

namespace qtune::cli {

namespace {

std::string join(const std::set<std::string>& names, const char* sep) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : sep) + n;
  return out;
}

using ByKind = std::map<std::string, std::set<std::string>>;

Json to_json(const ByKind& by_kind) {
  Json out = Json::object();
  for (const auto& [kind, names] : by_kind) out[kind] = join(names, "+");
  return out;
}

ByKind ran_by_kind(const Model& model, bool detail) {
  ByKind out;
  for (const LayerSlot* slot : model.layers()) {
    const LayerKernel& k = *slot->kernel();
    out[to_string(slot->kind())].insert(detail ? k.backend_detail() : k.backend());
  }
  return out;
}

ByKind saved_by_kind(const Json& qconfig) {
  ByKind out;
  if (!qconfig.contains("layers") || !qconfig["layers"].is_object()) return out;
  for (const auto& [name, layer] : qconfig["layers"].items())
    if (layer.is_object() && layer.contains("kind") && layer["kind"].is_string() &&
        layer.contains("backend") && layer["backend"].is_string())
      out[layer["kind"].get<std::string>()].insert(layer["backend"].get<std::string>());
  return out;
}

std::string describe(const ByKind& by_kind) {
  std::string out;
  for (const auto& [kind, names] : by_kind)
    out += (out.empty() ? "" : ", ") + kind + " " + join(names, "+");
  return out;
}

}  // namespace

std::string backend_flag(const Args& args, const std::string& command) {
  const std::string name = args.get_or("backend", "");
  if (!args.has("backend")) return "";
  const std::vector<std::string> known = backend_names();
  if (name == "auto" || std::find(known.begin(), known.end(), name) != known.end()) return name;
  std::string list;
  for (const std::string& n : known) list += ", " + n;
  throw UsageError("qtune " + command + ": --backend: unknown backend '" + name +
                   "' (expected auto" + list + ")");
}

Json backend_fields(const LoadedModel& loaded) {
  Json out = {{"backends", to_json(ran_by_kind(*loaded.model, false))},
              {"backend_details", to_json(ran_by_kind(*loaded.model, true))},
              {"backend_override", !loaded.backend_override.empty()}};
  if (loaded.saved) out["saved_backends"] = to_json(saved_by_kind(loaded.qconfig));
  return out;
}

std::string backend_note(const LoadedModel& loaded) {
  if (loaded.backend_override.empty()) return "";
  return "backend " + loaded.backend_override + ": ran on " +
         describe(ran_by_kind(*loaded.model, true)) +
         "; the saved result is only claimed for the saved backends (" +
         describe(saved_by_kind(loaded.qconfig)) + ")";
}

}  // namespace qtune::cli
