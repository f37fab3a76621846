#include "storage/formats/hf_export_common.h"

#include <cstdio>
#include <fstream>
#include <set>

#include "backends/int8.h"
#include "common/error.h"
#include "models/llama/hf_checkpoint.h"

namespace qtune {

namespace fs = std::filesystem;

namespace {

at::ScalarType source_dtype(const LlamaConfig& c) {
  if (c.torch_dtype == "bfloat16") return at::kBFloat16;
  if (c.torch_dtype == "float16") return at::kHalf;
  return at::kFloat;
}

}  // namespace

HfExportModel hf_export_layers(const ExportInput& in, const std::string& format) {
  QT_CHECK(in.model != nullptr, format, ": no model to export");
  HfExportModel m;
  m.model = dynamic_cast<const LlamaModel*>(in.model);
  QT_CHECK(m.model != nullptr, format, ": model ", in.model->spec(),
           " is not a Llama-family language model (the format stores Hugging Face decoders)");
  for (const LayerSlot* slot : in.model->layers()) {
    HfExportLayer l;
    l.slot = slot;
    l.name = slot->name();
    const LayerKernel& k = *slot->kernel();
    if (slot->quantized() || k.quantized_weight() != nullptr) {
      QT_CHECK(dynamic_cast<const Int8Kernel*>(&k) == nullptr, format, ": layer '", l.name,
               "': int8 (W8A8) layer: the format stores weight-only layers with fp activations");
      l.weight = k.quantized_weight();
      QT_CHECK(l.weight != nullptr, format, ": layer '", l.name, "': its '", k.backend(),
               "' kernel does not expose its quantized weight");
      QT_CHECK(!slot->input_multiplier().defined(), format, ": layer '", l.name,
               "': input multiplier (AWQ/TEQ scaling with no producer to fold into): the format "
               "has no per-input scaling; quantize with folding: true");
    }
    m.layers.push_back(std::move(l));
  }
  return m;
}

std::vector<std::string> write_hf_quantized(const fs::path& out, const HfExportModel& m,
                                            const ExportInput& in,
                                            std::map<std::string, at::Tensor> quantized,
                                            const Json& quantization_config) {
  std::vector<std::string> notes;
  const LlamaConfig& config = m.model->config();
  const at::ScalarType dtype = source_dtype(config);
  // The quantized layers' float weights are not wanted: a layer loaded in
  // quantized form would dequantize its whole weight only to drop it.
  std::set<std::string> quantized_layers;
  for (const HfExportLayer& l : m.layers)
    if (l.weight) quantized_layers.insert(l.name);
  std::map<std::string, at::Tensor> tensors = m.model->hf_tensors(quantized_layers);
  int folded = 0;
  for (const HfExportLayer& l : m.layers) {
    if (l.weight) continue;
    const auto it = tensors.find(l.name + ".weight");
    if (l.slot->input_multiplier().defined() && it != tensors.end()) {
      // W (x * s) = (W diag(s)) x: the fp weight absorbs the multiplier.
      it->second = it->second * l.slot->input_multiplier().unsqueeze(0);
      ++folded;
    }
  }
  for (auto& [name, t] : tensors) t = t.to(dtype).contiguous();
  for (auto& [name, t] : quantized) {
    QT_ASSERT(!tensors.count(name), "two tensors named ", name);
    tensors.emplace(name, std::move(t));
  }
  HfSaveOptions options;
  options.tokenizer_from = in.files_dir;
  save_hf_checkpoint(out, config, tensors, options);
  // save_hf_checkpoint wrote the plain config; the format's config adds quantization_config.
  Json cj = Json::parse(llama_config_to_json(config).dump());
  cj["quantization_config"] = quantization_config;
  const fs::path cfile = out / "config.json";
  std::ofstream f(cfile, std::ios::trunc);
  f << cj.dump(2) << "\n";
  f.flush();
  QT_CHECK(f, cfile.string(), ": write failed");
  notes.push_back("unquantized tensors stored as " + config.torch_dtype +
                  " (the model's source dtype)");
  if (folded > 0)
    notes.push_back(std::to_string(folded) +
                    " unquantized layer(s) had an input multiplier, folded into their weights");
  return notes;
}

void Fp16ScaleError::add(const at::Tensor& scale_fp32, const at::Tensor& scale_fp16) {
  const at::Tensor s = scale_fp32.to(at::kFloat).reshape({-1});
  const at::Tensor r = scale_fp16.to(at::kFloat).reshape({-1});
  const at::Tensor nz = s != 0;
  if (nz.any().item<bool>()) {
    const at::Tensor rel = ((r - s).abs() / s.abs()).masked_select(nz);
    max_rel_ = std::max(max_rel_, rel.max().item<double>());
  }
  count_ += s.numel();
}

std::string Fp16ScaleError::note() const {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "scales rounded to fp16 (the format's scale dtype): max relative error %.3g over "
                "%lld scales",
                max_rel_, static_cast<long long>(count_));
  return buf;
}

}  // namespace qtune
