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

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

Json spec_to_json(const QuantSpec& spec) {
  return Json{{"bits", spec.bits},
              {"scheme", to_string(spec.scheme)},
              {"granularity", granularity_name(spec.granularity)},
              {"group_size", spec.group_size},
              {"full_range", spec.full_range},
              {"clip_ratio", spec.clip_ratio}};
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
  if (j.contains("clip_ratio")) {
    QT_CHECK(j["clip_ratio"].is_number(), where, ".clip_ratio: expected a number, got ",
             j["clip_ratio"].dump());
    s.clip_ratio = j["clip_ratio"].get<double>();
  }
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

void check_quantized_layout(const QuantizedWeight& w, const std::string& where) {
  QT_CHECK(w.shape.size() >= 2, where, ": expected a weight shape with >= 2 dims, got ",
           shape_str(w.shape));
  for (int64_t d : w.shape)
    QT_CHECK(d > 0, where, ": weight shape ", shape_str(w.shape), " has a dimension < 1");
  const int64_t rows = w.rows(), cols = w.cols();
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
  QT_CHECK(w.scale.defined() && w.scale.scalar_type() == at::kFloat &&
               w.scale.sizes() == at::IntArrayRef(params),
           where, ": scales: expected float32 ", shape_str(params), ", got ",
           w.scale.defined() ? std::string(c10::toString(w.scale.scalar_type())) + " " +
                                   shape_str(w.scale.sizes())
                             : std::string("nothing"));
  if (w.spec.scheme == Scheme::kAsym) {
    QT_CHECK(w.zero.defined() && w.zero.scalar_type() == at::kInt &&
                 w.zero.sizes() == at::IntArrayRef(params),
             where, ": qzeros: expected int32 ", shape_str(params), " for an asym layer, got ",
             w.zero.defined() ? std::string(c10::toString(w.zero.scalar_type())) + " " +
                                    shape_str(w.zero.sizes())
                              : std::string("nothing"));
  } else {
    QT_CHECK(!w.zero.defined(), where, ": qzeros present for a sym layer");
  }
}

}  // namespace qtune::storage_detail
