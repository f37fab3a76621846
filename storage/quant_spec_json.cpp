#include "storage/quant_spec_json.h"

#include "common/error.h"
#include "quantizers/core/packing.h"

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

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
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

namespace {

std::string describe(const at::Tensor& t) {
  return t.defined() ? std::string(c10::toString(t.scalar_type())) + " " + shape_str(t.sizes())
                     : std::string("nothing");
}

/// A compressed parameter tensor of `n` values stored as `pq` says.
void check_packed_params(const PackedParams& p, const ParamQuant& pq, int64_t n,
                         const std::string& where, const std::string& name) {
  const QuantSpec s = param_spec(pq);
  const int64_t per_word = values_per_word(pq.bits);
  const std::vector<int64_t> packed{1, (n + per_word - 1) / per_word};
  const std::vector<int64_t> params{1, s.groups_per_row(n)};
  QT_CHECK(p.packed.defined() && p.packed.scalar_type() == at::kInt &&
               p.packed.sizes() == at::IntArrayRef(packed),
           where, ": ", name, ": expected int32 ", shape_str(packed), ", got ", describe(p.packed));
  QT_CHECK(p.scale.defined() && p.scale.scalar_type() == at::kFloat &&
               p.scale.sizes() == at::IntArrayRef(params),
           where, ": ", name, "_scale: expected float32 ", shape_str(params), ", got ",
           describe(p.scale));
  if (pq.scheme == Scheme::kAsym) {
    QT_CHECK(p.zero.defined() && p.zero.scalar_type() == at::kInt &&
                 p.zero.sizes() == at::IntArrayRef(params),
             where, ": ", name, "_zero: expected int32 ", shape_str(params), ", got ",
             describe(p.zero));
  } else {
    QT_CHECK(!p.zero.defined(), where, ": ", name, "_zero present for sym parameters");
  }
}

}  // namespace

void check_quantized_layout(const QuantizedWeight& w, const std::string& where) {
  QT_CHECK(w.shape.size() >= 2, where, ": expected a weight shape with >= 2 dims, got ",
           shape_str(w.shape));
  for (int64_t d : w.shape)
    QT_CHECK(d > 0, where, ": weight shape ", shape_str(w.shape), " has a dimension < 1");
  const int64_t rows = w.matrix_rows(), cols = w.matrix_cols();
  const int64_t per_word = values_per_word(w.spec.bits);
  const std::vector<int64_t> packed{rows, (cols + per_word - 1) / per_word};
  QT_CHECK(w.packed.defined() && w.packed.scalar_type() == at::kInt &&
               w.packed.sizes() == at::IntArrayRef(packed),
           where, ": qweight: expected int32 ", shape_str(packed), " for ", w.spec.bits,
           "-bit codes of a ", shape_str(w.shape), " weight, got ",
           w.packed.defined() ? std::string(c10::toString(w.packed.scalar_type())) + " " +
                                    shape_str(w.packed.sizes())
                              : std::string("nothing"));
  const std::vector<int64_t> params{w.spec.granularity == Granularity::kPerTensor ? 1 : rows,
                                    w.spec.groups_per_row(cols)};
  const int64_t n_params = params[0] * params[1];
  if (w.spec.scale_quant.enabled()) {
    check_packed_params(w.scale_q, w.spec.scale_quant, n_params, where, "scales_q");
  } else {
    QT_CHECK(w.scale.defined() && w.scale.scalar_type() == at::kFloat &&
                 w.scale.sizes() == at::IntArrayRef(params),
             where, ": scales: expected float32 ", shape_str(params), ", got ", describe(w.scale));
  }
  if (w.spec.scheme == Scheme::kAsym) {
    if (w.spec.zero_quant.enabled()) {
      check_packed_params(w.zero_q, w.spec.zero_quant, n_params, where, "qzeros_q");
    } else {
      const auto zt = w.spec.float_zero ? at::kFloat : at::kInt;
      QT_CHECK(w.zero.defined() && w.zero.scalar_type() == zt &&
                   w.zero.sizes() == at::IntArrayRef(params),
               where, ": qzeros: expected ", w.spec.float_zero ? "float32 " : "int32 ",
               shape_str(params), " for an asym layer, got ", describe(w.zero));
    }
  } else {
    QT_CHECK(!w.zero.defined() && !w.zero_q.defined(), where, ": qzeros present for a sym layer");
  }
  if (w.spec.has_g_idx) {
    QT_CHECK(w.g_idx.defined() && w.g_idx.scalar_type() == at::kInt && w.g_idx.dim() == 1 &&
                 w.g_idx.size(0) == cols,
             where, ": g_idx: expected int32 [", cols, "], got ", describe(w.g_idx));
    QT_CHECK(cols == 0 ||
                 (w.g_idx.min().item<int64_t>() >= 0 && w.g_idx.max().item<int64_t>() < params[1]),
             where, ": g_idx: values must be group indices in [0, ", params[1], ")");
  } else {
    QT_CHECK(!w.g_idx.defined(), where, ": g_idx present but the layer has no column groups");
  }
}

}  // namespace qtune::storage_detail
