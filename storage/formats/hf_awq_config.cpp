#include "storage/formats/hf_awq_config.h"

#include "common/error.h"

namespace qtune {

Json AwqConfig::to_json() const {
  Json j = {{"quant_method", "awq"},
            {"version", "gemm"},
            {"zero_point", true},
            {"bits", 4},
            {"group_size", group_size}};
  j["modules_to_not_convert"] =
      modules_to_not_convert.empty() ? Json(nullptr) : Json(modules_to_not_convert);
  return j;
}

AwqConfig AwqConfig::from_json(const Json& j, const std::string& file) {
  const std::string where = file + ": quantization_config";
  QT_CHECK(j.is_object(), where, ": expected an object, got ", j.dump());
  QT_CHECK(j.contains("quant_method") && j["quant_method"] == "awq", where, ".quant_method: expected \"awq\", got ",
           j.contains("quant_method") ? j["quant_method"].dump() : "nothing");
  // AutoAWQ's own quant_config.json spells bits and group size w_bit and q_group_size.
  auto field = [&](const char* a, const char* b) -> const Json& {
    QT_CHECK(j.contains(a) || j.contains(b), where, ": missing field '", a, "'");
    return j.contains(a) ? j[a] : j[b];
  };
  const Json& bits = field("bits", "w_bit");
  QT_CHECK(bits == 4, where, ".bits: expected 4 (AWQ GEMM packs 4-bit codes), got ", bits.dump());
  const Json& g = field("group_size", "q_group_size");
  QT_CHECK(g.is_number_integer() && g.get<int64_t>() > 0, where,
           ".group_size: expected a positive integer, got ", g.dump());
  const Json version = j.value("version", Json("gemm"));
  QT_CHECK(version.is_string() && (version == "gemm" || version == "GEMM"), where,
           ".version: expected \"gemm\" (qtune reads AutoAWQ's GEMM layout only), got ",
           version.dump());
  const Json zp = j.value("zero_point", Json(true));
  QT_CHECK(zp == true, where,
           ".zero_point: expected true (the GEMM layout stores zero points), got ", zp.dump());
  AwqConfig c;
  c.group_size = g.get<int64_t>();
  if (j.contains("modules_to_not_convert") && !j["modules_to_not_convert"].is_null()) {
    const Json& m = j["modules_to_not_convert"];
    QT_CHECK(m.is_array(), where, ".modules_to_not_convert: expected a list of names, got ",
             m.dump());
    for (const Json& n : m) {
      QT_CHECK(n.is_string(), where, ".modules_to_not_convert: expected names, got ", n.dump());
      c.modules_to_not_convert.push_back(n.get<std::string>());
    }
  }
  return c;
}

}  // namespace qtune
