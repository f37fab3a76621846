#include "quantizers/quantizer.h"

#include <algorithm>
#include <mutex>
#include <regex>

#include "backends/backend_list.h"
#include "common/error.h"
#include "quantizers/registry.h"

namespace qtune {

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<std::shared_ptr<const Quantizer>> list;
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
    reg->list = builtin_quantizers();
    return reg;
  }();
  return *r;
}

std::regex compile_regex(const std::string& pattern, const std::string& where) {
  try {
    return std::regex(pattern);
  } catch (const std::regex_error& e) {
    throw Error(where + ": invalid regular expression '" + pattern + "': " + e.what());
  }
}

bool name_matches(const std::string& pattern, const std::string& name) {
  return std::regex_match(name, compile_regex(pattern, "layer name pattern"));
}

void merge_into(Json& base, const Json& update) {
  if (!update.is_object()) return;
  for (auto it = update.begin(); it != update.end(); ++it) base[it.key()] = it.value();
}

std::string json_type(const Json& j) { return j.type_name(); }

}  // namespace

void register_quantizer(std::shared_ptr<const Quantizer> q) {
  QT_ASSERT(q != nullptr);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& existing : r.list)
    QT_CHECK(existing->name() != q->name(), "quantizer '", q->name(), "' is already registered");
  r.list.push_back(std::move(q));
}

const Quantizer& quantizer_by_name(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::string known;
  for (const auto& q : r.list) {
    if (q->name() == name) return *q;
    known += (known.empty() ? "" : ", ") + q->name();
  }
  throw Error("unknown algorithm '" + name + "': expected one of " + known);
}

std::vector<std::string> quantizer_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& q : r.list) names.push_back(q->name());
  return names;
}

std::optional<Json> layer_params(const QuantConfig& config, const LayerSlot& layer) {
  for (const std::string& pattern : config.fp32_layers)
    if (name_matches(pattern, layer.name())) return std::nullopt;
  const std::string kind = to_string(layer.kind());
  Json params = config.params.is_object() ? config.params : Json::object();
  // INC's precedence: global, then by op type, then by op name; later wins
  // within each tier. An override naming both a regex and a type is a name
  // override that also requires the type.
  for (const LayerOverride& o : config.overrides)
    if (o.name_regex.empty() && (o.layer_type.empty() || o.layer_type == kind))
      merge_into(params, o.params);
  for (const LayerOverride& o : config.overrides)
    if (!o.name_regex.empty() && (o.layer_type.empty() || o.layer_type == kind) &&
        name_matches(o.name_regex, layer.name()))
      merge_into(params, o.params);
  const Quantizer& q = quantizer_by_name(config.algorithm);
  Json effective = q.schema().validate(params, "layer '" + layer.name() + "' params");
  if (effective.contains("dtype") && effective["dtype"] == "fp32") return std::nullopt;
  return effective;
}

Json QuantConfig::to_json() const {
  Json overrides_json = Json::array();
  for (const LayerOverride& o : overrides) {
    Json oj = Json::object();
    if (!o.name_regex.empty()) oj["name_regex"] = o.name_regex;
    if (!o.layer_type.empty()) oj["layer_type"] = o.layer_type;
    oj["params"] = o.params.is_null() ? Json::object() : o.params;
    overrides_json.push_back(std::move(oj));
  }
  Json j = Json::object();
  j["algorithm"] = algorithm;
  j["params"] = params.is_null() ? Json::object() : params;
  j["overrides"] = std::move(overrides_json);
  j["fp32_layers"] = fp32_layers;
  j["backend"] = backend;
  return j;
}

QuantConfig QuantConfig::from_json(const Json& j, const std::string& where) {
  QT_CHECK(j.is_object(), where, ": expected a quantization config object, got ", json_type(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* kKeys[] = {"algorithm", "params", "overrides", "fp32_layers", "backend"};
    bool known = false;
    for (const char* k : kKeys) known = known || it.key() == k;
    QT_CHECK(known, where, ".", it.key(),
             ": unknown key (expected algorithm, params, overrides, fp32_layers, backend)");
  }
  QuantConfig c;
  if (j.contains("algorithm")) {
    QT_CHECK(j["algorithm"].is_string(), where, ".algorithm: expected a string, got ",
             j["algorithm"].dump());
    c.algorithm = j["algorithm"].get<std::string>();
  }
  const Quantizer* q = nullptr;
  try {
    q = &quantizer_by_name(c.algorithm);
  } catch (const Error& e) {
    throw Error(where + ".algorithm: " + e.what());
  }
  c.params =
      q->schema().validate(j.contains("params") ? j["params"] : Json::object(), where + ".params");

  if (j.contains("overrides")) {
    const Json& os = j["overrides"];
    QT_CHECK(os.is_array(), where, ".overrides: expected an array, got ", json_type(os));
    for (size_t i = 0; i < os.size(); ++i) {
      const std::string w = where + ".overrides[" + std::to_string(i) + "]";
      const Json& o = os[i];
      QT_CHECK(o.is_object(), w, ": expected an object, got ", json_type(o));
      LayerOverride lo;
      for (auto it = o.begin(); it != o.end(); ++it) {
        const std::string& k = it.key();
        if (k == "params") {
          lo.params = q->schema().validate_subset(it.value(), w + ".params");
        } else if (k == "name_regex" || k == "layer_type") {
          QT_CHECK(it.value().is_string(), w, ".", k, ": expected a string, got ",
                   it.value().dump());
          (k == "name_regex" ? lo.name_regex : lo.layer_type) = it.value().get<std::string>();
        } else {
          throw Error(w + "." + k + ": unknown key (expected name_regex, layer_type, params)");
        }
      }
      QT_CHECK(!lo.name_regex.empty() || !lo.layer_type.empty(), w,
               ": expected name_regex or layer_type to say which layers it applies to");
      if (!lo.name_regex.empty()) compile_regex(lo.name_regex, w + ".name_regex");
      if (!lo.layer_type.empty()) {
        try {
          layer_kind_from_string(lo.layer_type);
        } catch (const Error& e) {
          throw Error(w + ".layer_type: " + e.what());
        }
      }
      c.overrides.push_back(std::move(lo));
    }
  }

  if (j.contains("fp32_layers")) {
    const Json& fl = j["fp32_layers"];
    QT_CHECK(fl.is_array(), where, ".fp32_layers: expected an array of name regexes, got ",
             json_type(fl));
    for (size_t i = 0; i < fl.size(); ++i) {
      const std::string w = where + ".fp32_layers[" + std::to_string(i) + "]";
      QT_CHECK(fl[i].is_string(), w, ": expected a string, got ", fl[i].dump());
      compile_regex(fl[i].get<std::string>(), w);
      c.fp32_layers.push_back(fl[i].get<std::string>());
    }
  }

  if (j.contains("backend")) {
    QT_CHECK(j["backend"].is_string(), where, ".backend: expected a string, got ",
             j["backend"].dump());
    c.backend = j["backend"].get<std::string>();
    if (c.backend != "auto") {
      const std::vector<std::string> known = backend_names();
      std::string list;
      for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
      QT_CHECK(std::find(known.begin(), known.end(), c.backend) != known.end(), where,
               ".backend: unknown backend '", c.backend, "' (known: auto, ", list, ")");
    }
  }
  return c;
}

std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                  const CalibrationData& calibration) {
  const Quantizer& q = quantizer_by_name(config.algorithm);
  QT_CHECK(!q.needs_calibration() || !calibration.batches.empty(), "algorithm '", q.name(),
           "' needs calibration data, got none");
  // Configs built in code skip from_json; validating here gives them the same errors.
  QuantConfig checked = config;
  checked.params = q.schema().validate(config.params, "quantization config params");
  for (const std::string& name : model.default_fp32_layers()) {
    bool named = false;
    for (const LayerOverride& o : config.overrides)
      named = named || (!o.name_regex.empty() && std::regex_match(name, std::regex(o.name_regex)));
    // An exact-name pattern: layer names carry dots, which a regex would read as "any".
    if (!named)
      checked.fp32_layers.push_back(
          std::regex_replace(name, std::regex(R"([.^$|()\\[\]{}*+?])"), R"(\$&)"));
  }
  return q.quantize(model, checked, calibration);
}

}  // namespace qtune
