// The hf-gptq exporter: a GPTQ checkpoint (hf_gptq_layout.h) that
// transformers, vLLM and GPTQModel load. The most common layer format becomes
// the config's; every other quantized layer gets a "+:" override and every
// unquantized one (lm_head aside, which has its own flag) a "-:" entry in
// GPTQModel's per-module `dynamic` map.
#include <map>
#include <tuple>

#include "common/error.h"
#include "storage/formats/export.h"
#include "storage/formats/hf_export_common.h"
#include "storage/formats/hf_gptq_layout.h"

namespace qtune {

namespace {

constexpr const char* kFormat = "hf-gptq";

/// "model.layers.0.self_attn.q_proj" -> "^model\.layers\.0\.self_attn\.q_proj$"
std::string exact_name_regex(const std::string& name) {
  std::string re = "^";
  for (char c : name) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re += '\\';
    re += c;
  }
  return re + "$";
}

Json override_fields(const GptqLayerFormat& f, const GptqLayerFormat& base) {
  Json j = Json::object();
  if (f.bits != base.bits) j["bits"] = f.bits;
  if (f.group_size != base.group_size) j["group_size"] = f.group_size;
  if (f.desc_act != base.desc_act) j["desc_act"] = f.desc_act;
  if (f.sym != base.sym) j["sym"] = f.sym;
  return j;
}

}  // namespace

ExportReport export_hf_gptq(const ExportInput& in, const std::filesystem::path& out) {
  const std::string& cf = in.options.checkpoint_format;
  QT_CHECK(cf == "gptq" || cf == "gptq_v2", kFormat,
           ": checkpoint_format must be gptq (v1) or gptq_v2, got '", cf, "'");
  const HfExportModel m = hf_export_layers(in, kFormat);
  const bool tied = m.model->config().tie_word_embeddings;

  // Refuse everything the format cannot carry before writing anything.
  using Key = std::tuple<int, int64_t, bool, bool>;
  std::map<Key, int> counts;
  std::vector<GptqLayerFormat> formats(m.layers.size());
  std::optional<GptqLayerFormat> first;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const HfExportLayer& l = m.layers[i];
    if (!l.weight) continue;
    const std::string why = gptq_cannot_carry(l.weight->spec, l.weight->shape);
    QT_CHECK(why.empty(), kFormat, ": layer '", l.name, "': ", why);
    QT_CHECK(l.name != "lm_head" || !tied, kFormat,
             ": layer 'lm_head': quantized while tied to the embeddings: a runtime would tie it "
             "back to the float embedding matrix");
    formats[i] = gptq_layer_format(l.weight->spec);
    if (l.name == "lm_head") continue;
    const GptqLayerFormat& f = formats[i];
    if (!first) first = f;
    ++counts[Key{f.bits, f.group_size, f.desc_act, f.sym}];
  }
  QT_CHECK(first.has_value(), kFormat, ": model ", m.model->spec(),
           " has no quantized decoder layer: the format stores a quantized model");
  // The most common format is the config's (ties: the first layer's).
  GptqConfig c;
  c.base = *first;
  int best = counts[Key{first->bits, first->group_size, first->desc_act, first->sym}];
  for (const auto& [k, n] : counts)
    if (n > best) {
      best = n;
      c.base = GptqLayerFormat{std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k)};
    }
  c.checkpoint_format = cf;

  std::map<std::string, at::Tensor> packed;
  Fp16ScaleError scale_error;
  int quantized = 0, with_g_idx = 0;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const HfExportLayer& l = m.layers[i];
    if (!l.weight) {
      if (l.name != "lm_head")
        c.dynamic.emplace_back("-:" + exact_name_regex(l.name), Json::object());
      continue;
    }
    if (l.name == "lm_head") c.lm_head = true;
    if (!(formats[i] == c.base))
      c.dynamic.emplace_back("+:" + exact_name_regex(l.name), override_fields(formats[i], c.base));
    const GptqTensors t = gptq_pack(*l.weight, c.v1(), l.name);
    scale_error.add(l.weight->scale, t.scales);
    packed[l.name + ".qweight"] = t.qweight;
    packed[l.name + ".qzeros"] = t.qzeros;
    packed[l.name + ".scales"] = t.scales;
    packed[l.name + ".g_idx"] = t.g_idx;
    ++quantized;
    with_g_idx += l.weight->spec.has_g_idx ? 1 : 0;
  }

  ExportReport report;
  report.written = out;
  report.notes = write_hf_quantized(out, m, in, std::move(packed), c.to_json());
  report.notes.insert(report.notes.begin(), scale_error.note());
  report.notes.push_back(
      std::to_string(quantized) + " quantized layer(s) as checkpoint_format " + cf +
      (with_g_idx ? ", " + std::to_string(with_g_idx) + " with act-order g_idx" : std::string()) +
      "; " + std::to_string(c.dynamic.size()) + " dynamic override(s)");
  return report;
}

}  // namespace qtune
