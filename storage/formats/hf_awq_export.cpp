// The hf-awq exporter: an AutoAWQ GEMM checkpoint (hf_awq_layout.h). The
// format has one group size and 4 bits for the whole model and no per-layer
// overrides; unquantized layers are listed in modules_to_not_convert.
#include "common/error.h"
#include "storage/formats/export.h"
#include "storage/formats/hf_awq_layout.h"
#include "storage/formats/hf_export_common.h"

namespace qtune {

namespace {
constexpr const char* kFormat = "hf-awq";
}  // namespace

ExportReport export_hf_awq(const ExportInput& in, const std::filesystem::path& out) {
  const HfExportModel m = hf_export_layers(in, kFormat);
  AwqConfig c;
  const HfExportLayer* first = nullptr;
  for (const HfExportLayer& l : m.layers) {
    if (!l.weight) {
      c.modules_to_not_convert.push_back(l.name);
      continue;
    }
    QT_CHECK(l.name != "lm_head", kFormat,
             ": layer 'lm_head': quantized: AWQ runtimes keep lm_head unquantized");
    const std::string why = awq_cannot_carry(l.weight->spec, l.weight->shape);
    QT_CHECK(why.empty(), kFormat, ": layer '", l.name, "': ", why);
    if (!first) first = &l;
    QT_CHECK(l.weight->spec.group_size == first->weight->spec.group_size, kFormat, ": layer '",
             l.name, "': group_size ", l.weight->spec.group_size,
             ": the format has one group size for the model (", first->name, " has ",
             first->weight->spec.group_size, ") and no per-layer overrides");
  }
  QT_CHECK(first != nullptr, kFormat, ": model ", m.model->spec(),
           " has no quantized layer: the format stores a quantized model");
  c.group_size = first->weight->spec.group_size;

  std::map<std::string, at::Tensor> packed;
  Fp16ScaleError scale_error;
  int quantized = 0;
  for (const HfExportLayer& l : m.layers) {
    if (!l.weight) continue;
    const AwqTensors t = awq_pack(*l.weight, l.name);
    scale_error.add(l.weight->scale, t.scales);
    packed[l.name + ".qweight"] = t.qweight;
    packed[l.name + ".qzeros"] = t.qzeros;
    packed[l.name + ".scales"] = t.scales;
    ++quantized;
  }
  ExportReport report;
  report.written = out;
  report.notes = write_hf_quantized(out, m, in, std::move(packed), c.to_json());
  report.notes.insert(report.notes.begin(), scale_error.note());
  report.notes.push_back(std::to_string(quantized) + " quantized layer(s), group_size " +
                         std::to_string(c.group_size) + "; " +
                         std::to_string(c.modules_to_not_convert.size()) +
                         " layer(s) in modules_to_not_convert");
  return report;
}

}  // namespace qtune
