#include "storage/quant_spec_json.h"

#include "common/error.h"

namespace qtune::storage_detail {

namespace {

const char* granularity_name(Granularity g) {
  switch (g) {
    case Granularity::kPerTensor:
      return "per_tensor";
    case Granularity::kPerChannel:
      return "per_channel";
    case Granularity::kPerGroup:
      return "per_group";
  }
  QT_ASSERT(false, "unknown granularity");
  return "";
}

const Json& field(const Json& j, const char* key, const std::string& where) {
  QT_CHECK(j.contains(key), where, ": missing field '", key, "'");
  return j.at(key);
}

int64_t int_field(const Json& j, const char* key, const std::string& where) {
  const Json& v = field(j, key, where);
  QT_CHECK(v.is_number_integer(), where, ".", key, ": expected an integer, got ", v.dump());
  return v.get<int64_t>();
}

std::string string_field(const Json& j, const char* key, const std::string& where) {
  const Json& v = field(j, key, where);
  QT_CHECK(v.is_string(), where, ".", key, ": expected a string, got ", v.dump());
  return v.get<std::string>();
}

bool bool_field(const Json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) return false;
  QT_CHECK(j[key].is_boolean(), where, ".", key, ": expected true or false, got ", j[key].dump());
  return j[key].get<bool>();
}

DType dtype_from_field(const Json& j, const std::string& where) {
  const std::string d = string_field(j, "dtype", where);
  try {
    return dtype_from_string(d);
  } catch (const Error& e) {
    throw Error(where + ".dtype: " + e.what());
  }
}

ParamQuant param_quant_field(const Json& j, const char* key, const std::string& where) {
  const Json& v = j.at(key);
  const std::string w = where + "." + key;
  QT_CHECK(v.is_object(), w, ": expected an object, got ", v.dump());
  ParamQuant pq;
  pq.bits = static_cast<int>(int_field(v, "bits", w));
  QT_CHECK(pq.bits >= 2 && pq.bits <= 8, w, ".bits: expected 2..8, got ", pq.bits);
  const std::string scheme = string_field(v, "scheme", w);
  QT_CHECK(scheme == "sym" || scheme == "asym", w, ".scheme: expected \"sym\" or \"asym\", got \"",
           scheme, "\"");
  pq.scheme = scheme_from_string(scheme);
  pq.group_size = int_field(v, "group_size", w);
  return pq;
}

}  // namespace

Json spec_to_json(const QuantSpec& spec) {
  Json j{{"bits", spec.bits},
         {"scheme", to_string(spec.scheme)},
         {"granularity", granularity_name(spec.granularity)},
         {"group_size", spec.group_size},
         {"full_range", spec.full_range},
         {"clip_ratio", spec.clip_ratio},
         {"dtype", to_string(spec.dtype)},
         {"group_dim", spec.group_dim}};
  // Written only when used, so files of plain layers stay as they were.
  if (spec.sym_grid != SymGrid::kRtn) j["sym_grid"] = to_string(spec.sym_grid);
  if (spec.float_zero) j["float_zero"] = true;
  if (spec.has_g_idx) j["g_idx"] = true;
  auto pq_json = [](const ParamQuant& pq) {
    return Json{{"bits", pq.bits}, {"scheme", to_string(pq.scheme)}, {"group_size", pq.group_size}};
  };
  if (spec.scale_quant.enabled()) j["scale_quant"] = pq_json(spec.scale_quant);
  if (spec.zero_quant.enabled()) j["zero_quant"] = pq_json(spec.zero_quant);
  return j;
}

QuantSpec spec_from_json(const Json& j, const std::string& where) {
  QT_CHECK(j.is_object(), where, ": expected an object, got ", j.dump());
  QuantSpec s;
  const int64_t bits = int_field(j, "bits", where);
  QT_CHECK(bits >= 1 && bits <= 8, where, ".bits: expected 1..8, got ", bits);
  s.bits = static_cast<int>(bits);
  const std::string scheme = string_field(j, "scheme", where);
  QT_CHECK(scheme == "sym" || scheme == "asym", where,
           ".scheme: expected \"sym\" or \"asym\", got \"", scheme, "\"");
  s.scheme = scheme_from_string(scheme);
  const std::string g = string_field(j, "granularity", where);
  if (g == "per_tensor")
    s.granularity = Granularity::kPerTensor;
  else if (g == "per_channel")
    s.granularity = Granularity::kPerChannel;
  else if (g == "per_group")
    s.granularity = Granularity::kPerGroup;
  else
    throw Error(where + ".granularity: expected per_tensor, per_channel or per_group, got \"" + g +
                "\"");
  s.group_size = int_field(j, "group_size", where);
  if (j.contains("full_range")) {
    QT_CHECK(j["full_range"].is_boolean(), where, ".full_range: expected true or false, got ",
             j["full_range"].dump());
    s.full_range = j["full_range"].get<bool>();
  }
  if (j.contains("sym_grid")) {
    // Absent in files written before GPTQ had its own grid: those used RTN's.
    const std::string grid = string_field(j, "sym_grid", where);
    try {
      s.sym_grid = sym_grid_from_string(grid);
    } catch (const Error& e) {
      throw Error(where + ".sym_grid: " + e.what());
    }
  }
  if (j.contains("clip_ratio")) {
    QT_CHECK(j["clip_ratio"].is_number(), where, ".clip_ratio: expected a number, got ",
             j["clip_ratio"].dump());
    s.clip_ratio = j["clip_ratio"].get<double>();
  }
  if (j.contains("dtype")) s.dtype = dtype_from_field(j, where);
  if (j.contains("group_dim")) s.group_dim = static_cast<int>(int_field(j, "group_dim", where));
  s.float_zero = bool_field(j, "float_zero", where);
  s.has_g_idx = bool_field(j, "g_idx", where);
  if (j.contains("scale_quant")) s.scale_quant = param_quant_field(j, "scale_quant", where);
  if (j.contains("zero_quant")) s.zero_quant = param_quant_field(j, "zero_quant", where);
  try {
    s.validate();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  return s;
}

std::optional<QuantSpec> spec_from_params(const Json& p) {
  if (!p.is_object() || !p.contains("bits") || !p["bits"].is_number_integer()) return std::nullopt;
  QuantSpec s;
  s.bits = p["bits"].get<int>();
  if (p.contains("scheme") && p["scheme"].is_string())
    s.scheme = scheme_from_string(p["scheme"].get<std::string>());
  else if (p.contains("use_sym") && p["use_sym"].is_boolean())
    s.scheme = p["use_sym"].get<bool>() ? Scheme::kSym : Scheme::kAsym;
  else if (p.contains("sym") && p["sym"].is_boolean())
    s.scheme = p["sym"].get<bool>() ? Scheme::kSym : Scheme::kAsym;
  if (p.contains("group_size") && p["group_size"].is_number_integer()) {
    const int64_t gs = p["group_size"].get<int64_t>();
    if (gs == -1) {
      s.granularity = Granularity::kPerChannel;
    } else if (gs == 0) {
      s.granularity = Granularity::kPerTensor;
    } else {
      s.granularity = Granularity::kPerGroup;
      s.group_size = gs;
    }
  }
  for (const char* key : {"use_full_range", "full_range"})
    if (p.contains(key) && p[key].is_boolean()) s.full_range = p[key].get<bool>();
  return s;
}

}  // namespace qtune::storage_detail
