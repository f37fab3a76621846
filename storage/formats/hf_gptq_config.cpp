#include "storage/formats/hf_gptq_config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "common/error.h"

namespace qtune {

namespace {

using Pattern = std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)>;

/// A dynamic key's pattern, anchored at the start of the name as Python's
/// re.match is. PCRE2 with bounded matching, not std::regex: a checkpoint's
/// config comes from strangers, and libstdc++'s recursive matcher overran the
/// stack on a pattern the fuzzer wrote (".*+lm_head").
Pattern compile_pattern(const std::string& pattern, const std::string& where) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  Pattern re(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                           PCRE2_ANCHORED, &err, &offset, nullptr),
             pcre2_code_free);
  if (!re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    throw Error(detail::concat(where, ": not a regular expression qtune reads (",
                               reinterpret_cast<char*>(msg), " at offset ", offset, ")"));
  }
  return re;
}

bool re_match(const std::string& pattern, const std::string& name) {
  const Pattern re = compile_pattern(pattern, "quantization_config.dynamic[\"" + pattern + "\"]");
  const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(re.get(), nullptr), pcre2_match_data_free);
  const std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> limits(
      pcre2_match_context_create(nullptr), pcre2_match_context_free);
  QT_CHECK(match && limits, "quantization_config.dynamic: out of memory matching \"", pattern,
           "\"");
  pcre2_set_match_limit(limits.get(), 1000000);
  pcre2_set_depth_limit(limits.get(), 10000);
  const int rc = pcre2_match(re.get(), reinterpret_cast<PCRE2_SPTR>(name.data()), name.size(), 0, 0,
                             match.get(), limits.get());
  QT_CHECK(rc >= 0 || rc == PCRE2_ERROR_NOMATCH, "quantization_config.dynamic: the pattern \"",
           pattern, "\" did not finish matching \"", name, "\" (PCRE2 error ", rc, ")");
  return rc >= 0;
}

GptqLayerFormat apply_override(GptqLayerFormat f, const Json& o) {
  if (o.contains("bits")) f.bits = o["bits"].get<int>();
  if (o.contains("group_size")) f.group_size = o["group_size"].get<int64_t>();
  if (o.contains("desc_act")) f.desc_act = o["desc_act"].get<bool>();
  if (o.contains("sym")) f.sym = o["sym"].get<bool>();
  return f;
}

/// Validates the per-layer fields present in `j` (the base config or a dynamic entry).
void check_format_fields(const Json& j, const std::string& where) {
  if (j.contains("bits"))
    QT_CHECK(j["bits"].is_number_integer() && gptq_bits_supported(j["bits"].get<int64_t>()), where,
             ".bits: expected 2, 3, 4 or 8, got ", j["bits"].dump());
  if (j.contains("group_size"))
    QT_CHECK(j["group_size"].is_number_integer() &&
                 (j["group_size"].get<int64_t>() == -1 || j["group_size"].get<int64_t>() > 0),
             where, ".group_size: expected -1 or a positive integer, got ", j["group_size"].dump());
  for (const char* key : {"desc_act", "sym"})
    if (j.contains(key))
      QT_CHECK(j[key].is_boolean(), where, ".", key, ": expected true or false, got ",
               j[key].dump());
}

}  // namespace

bool gptq_bits_supported(int64_t bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

int64_t gptq_group_count(int64_t group_size, int64_t in) {
  // Not (in + group_size - 1) / group_size: a config's group size may be near INT64_MAX.
  return group_size == -1 ? 1 : in / group_size + (in % group_size != 0);
}

std::optional<GptqLayerFormat> GptqConfig::layer(const std::string& name) const {
  if (name == "lm_head" && !lm_head) return std::nullopt;
  for (const auto& [key, fields] : dynamic) {
    if (key.rfind("-:", 0) == 0) {
      if (re_match(key.substr(2), name)) return std::nullopt;
    } else if (re_match(key.rfind("+:", 0) == 0 ? key.substr(2) : key, name)) {
      return apply_override(base, fields);
    }
  }
  return base;
}

Json GptqConfig::to_json() const {
  Json j = {
      {"quant_method", "gptq"},    {"bits", base.bits}, {"group_size", base.group_size},
      {"desc_act", base.desc_act}, {"sym", base.sym},   {"checkpoint_format", checkpoint_format},
      {"lm_head", lm_head}};
  if (!dynamic.empty()) {
    Json d = Json::object();
    for (const auto& [key, fields] : dynamic) d[key] = fields;
    j["dynamic"] = d;
  }
  return j;
}

GptqConfig GptqConfig::from_json(const Json& j, const std::string& file) {
  const std::string where = file + ": quantization_config";
  QT_CHECK(j.is_object(), where, ": expected an object, got ", j.dump());
  QT_CHECK(j.contains("quant_method") && j["quant_method"] == "gptq", where,
           ".quant_method: expected \"gptq\", got ",
           j.contains("quant_method") ? j["quant_method"].dump() : "nothing");
  for (const char* key : {"bits", "group_size"})
    QT_CHECK(j.contains(key), where, ": missing field '", key, "'");
  check_format_fields(j, where);
  GptqConfig c;
  c.base = apply_override(c.base, j);
  // GPTQModel writes both spellings; older files only "format", AutoGPTQ only checkpoint_format.
  for (const char* key : {"format", "checkpoint_format"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    QT_CHECK(j[key].is_string() &&
                 (j[key].get<std::string>() == "gptq" || j[key].get<std::string>() == "gptq_v2"),
             where, ".", key,
             ": expected \"gptq\" or \"gptq_v2\" (qtune reads no other GPTQ "
             "layout), got ",
             j[key].dump());
    c.checkpoint_format = j[key].get<std::string>();
  }
  if (j.contains("lm_head")) {
    QT_CHECK(j["lm_head"].is_boolean(), where, ".lm_head: expected true or false, got ",
             j["lm_head"].dump());
    c.lm_head = j["lm_head"].get<bool>();
  }
  if (j.contains("dynamic") && !j["dynamic"].is_null()) {
    QT_CHECK(j["dynamic"].is_object(), where, ".dynamic: expected an object, got ",
             j["dynamic"].dump());
    for (const auto& [key, fields] : j["dynamic"].items()) {
      const std::string w = where + ".dynamic[\"" + key + "\"]";
      QT_CHECK(fields.is_object(), w, ": expected an object, got ", fields.dump());
      check_format_fields(fields, w);
      const std::string pattern =
          key.rfind("-:", 0) == 0 || key.rfind("+:", 0) == 0 ? key.substr(2) : key;
      (void)compile_pattern(pattern, w);
      c.dynamic.emplace_back(key, fields);
    }
  }
  return c;
}

}  // namespace qtune
