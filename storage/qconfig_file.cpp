#include "storage/qconfig_file.h"

#include "common/error.h"
#include "storage/quant_spec_json.h"

namespace qtune::storage_detail {

namespace {

const Json& required(const Json& j, const char* key, const std::string& where) {
  QT_CHECK(j.contains(key), where, ": missing field '", key, "'");
  return j.at(key);
}

constexpr int64_t kMaxWeightElements = int64_t{1} << 40;

}  // namespace

Qconfig parse_qconfig(const std::string& text, const std::string& qfile) {
  Qconfig out;
  Json& q = out.json;
  try {
    q = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(qfile + ": not valid JSON (" + e.what() + ")");
  }
  QT_CHECK(q.is_object(), qfile, ": expected a JSON object, got ", q.type_name());
  const Json& format = required(q, "format", qfile);
  QT_CHECK(format == kQconfigFormat, qfile, ": format: expected \"", kQconfigFormat, "\", got ",
           format.dump());
  const Json& version = required(q, "format_version", qfile);
  // An unsigned value past int64 would wrap when read as one: it is "newer" too.
  QT_CHECK(version.is_number_integer(), qfile, ": format_version: expected an integer, got ",
           version.dump());
  QT_CHECK(!version.is_number_unsigned() || version.get<uint64_t>() <= kQconfigFormatVersion, qfile,
           ": format_version ", version.dump(), " is newer than this qtune reads (",
           kQconfigFormatVersion, "); upgrade qtune");
  QT_CHECK(version.get<int64_t>() == kQconfigFormatVersion, qfile, ": format_version: expected ",
           kQconfigFormatVersion, ", got ", version.dump());
  const Json& spec_json = required(q, "model", qfile);
  QT_CHECK(spec_json.is_string() && !spec_json.get<std::string>().empty(), qfile,
           ": model: expected a model spec string, got ", spec_json.dump());
  out.model_spec = spec_json.get<std::string>();
  QT_CHECK(required(q, "quant_config", qfile).is_object(), qfile,
           ": quant_config: expected an object, got ", q["quant_config"].dump());
  if (q.contains("source_dtype")) {
    const Json& d = q.at("source_dtype");
    QT_CHECK(d == "float32" || d == "float16" || d == "bfloat16", qfile,
             ": source_dtype: expected \"float32\", \"float16\" or \"bfloat16\", got ", d.dump());
  }
  const Json& layers = required(q, "layers", qfile);
  QT_CHECK(layers.is_object(), qfile, ": layers: expected an object, got ", layers.type_name());

  for (const auto& [name, e] : layers.items()) {
    const std::string lw = qfile + ": layers." + name;
    QT_CHECK(e.is_object(), lw, ": expected an object, got ", e.type_name());
    const Json& kind_json = required(e, "kind", lw);
    QT_CHECK(kind_json == "Linear" || kind_json == "Conv2d", lw,
             ".kind: expected \"Linear\" or \"Conv2d\", got ", kind_json.dump());
    const Json& is_quantized = required(e, "quantized", lw);
    QT_CHECK(is_quantized.is_boolean(), lw, ".quantized: expected true or false, got ",
             is_quantized.dump());
    if (!is_quantized.get<bool>()) continue;

    QconfigLayer l;
    l.name = name;
    l.kind = kind_json.get<std::string>();
    const Json& backend = required(e, "backend", lw);
    QT_CHECK(backend.is_string(), lw, ".backend: expected a backend name, got ", backend.dump());
    l.backend = backend.get<std::string>();
    if (e.contains("int8")) {
      const Json& j = e.at("int8");
      QT_CHECK(j.is_object() && j.contains("dynamic") && j.at("dynamic").is_boolean() &&
                   j.contains("signed") && j.at("signed").is_boolean(),
               lw, ".int8: expected {\"dynamic\": true|false, \"signed\": true|false}, got ",
               j.dump());
      l.int8 = true;
      l.int8_dynamic = j.at("dynamic").get<bool>();
      l.int8_signed = j.at("signed").get<bool>();
    }
    l.spec = spec_from_json(e, lw);
    const Json& shape = required(e, "shape", lw);
    QT_CHECK(shape.is_array(), lw, ".shape: expected a list of positive integers, got ",
             shape.dump());
    for (const Json& d : shape) {
      QT_CHECK(d.is_number_integer() && d.get<int64_t>() > 0, lw,
               ".shape: expected a list of positive integers, got ", shape.dump());
      l.shape.push_back(d.get<int64_t>());
    }
    // Bounds the products computed from the shape (packed words, groups) far from int64's end.
    int64_t numel = 1;
    for (int64_t d : l.shape) {
      QT_CHECK(d <= kMaxWeightElements / numel, lw, ".shape: ", shape.dump(), " has more than ",
               kMaxWeightElements, " elements");
      numel *= d;
    }
    out.quantized.push_back(std::move(l));
  }
  return out;
}

}  // namespace qtune::storage_detail
