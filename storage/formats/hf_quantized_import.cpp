#include "storage/formats/hf_quantized_import.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "backends/backend_list.h"
#include "common/error.h"
#include "common/json.h"
#include "models/llama/hf_checkpoint.h"
#include "storage/formats/hf_awq_layout.h"
#include "storage/formats/hf_gptq_layout.h"

namespace qtune {

namespace fs = std::filesystem;

namespace {

struct LayerShape {
  std::string name;
  int64_t out, in;
};

std::vector<LayerShape> llama_layers(const LlamaConfig& c) {
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const int64_t out[kProjPerLayer] = {c.q_dim(), c.kv_dim(), c.kv_dim(), h, inter, inter, h};
  const int64_t in[kProjPerLayer] = {h, h, h, c.q_dim(), h, h, inter};
  std::vector<LayerShape> layers;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    for (int j = 0; j < kProjPerLayer; ++j)
      layers.push_back({llama_layer_name(i, j), out[j], in[j]});
  layers.push_back({"lm_head", c.vocab_size, h});
  return layers;
}

Json read_config_json(const fs::path& file) {
  std::ifstream in(file);
  QT_CHECK(in, file.string(), ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return Json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

at::Tensor take(std::map<std::string, at::Tensor>& tensors, const std::string& name) {
  auto it = tensors.find(name);
  if (it == tensors.end()) return at::Tensor();
  at::Tensor t = std::move(it->second);
  tensors.erase(it);
  return t;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ModelPtr load_hf_quantized_model(const fs::path& dir, const std::string& spec,
                                 const std::string& backend) {
  const fs::path cfile = dir / "config.json";
  const std::string method = hf_quant_method(dir);
  QT_CHECK(method == "gptq" || method == "awq", cfile.string(),
           ": quantization_config.quant_method '", method,
           "' is not one qtune imports (gptq, awq)");
  const Json qc = read_config_json(cfile)["quantization_config"];
  std::optional<GptqConfig> gptq;
  std::optional<AwqConfig> awq;
  if (method == "gptq")
    gptq = GptqConfig::from_json(qc, cfile.string());
  else
    awq = AwqConfig::from_json(qc, cfile.string());
  LlamaConfig config = read_llama_config(cfile);
  std::string source;
  std::map<std::string, at::Tensor> tensors = read_hf_tensors(dir, &source);

  std::vector<std::pair<std::string, QuantizedWeight>> quantized;
  for (const LayerShape& l : llama_layers(config)) {
    const bool has_q = tensors.count(l.name + ".qweight") > 0;
    std::optional<GptqLayerFormat> gf;
    if (gptq) gf = gptq->layer(l.name);
    if (!has_q) {
      // lm_head of a tied model has no tensor of its own.
      const bool optional = l.name == "lm_head" && config.tie_word_embeddings;
      QT_CHECK(optional || tensors.count(l.name + ".weight") || !gf, source, ": tensor '", l.name,
               ".qweight' is missing (quantization_config quantizes layer '", l.name, "')");
      continue;
    }
    QuantizedWeight w;
    if (gptq) {
      QT_CHECK(gf.has_value(), source, ": tensor '", l.name, ".qweight': ", cfile.string(),
               " leaves layer '", l.name,
               "' unquantized (lm_head false or a \"-:\" dynamic entry)");
      GptqTensors t{take(tensors, l.name + ".qweight"), take(tensors, l.name + ".qzeros"),
                    take(tensors, l.name + ".scales"), take(tensors, l.name + ".g_idx")};
      w = gptq_unpack(t, *gf, gptq->v1(), l.out, l.in, source, l.name);
    } else {
      const auto& skip = awq->modules_to_not_convert;
      QT_CHECK(std::find(skip.begin(), skip.end(), l.name) == skip.end(), source, ": tensor '",
               l.name, ".qweight': ", cfile.string(), " lists '", l.name,
               "' in modules_to_not_convert");
      AwqTensors t{take(tensors, l.name + ".qweight"), take(tensors, l.name + ".qzeros"),
                   take(tensors, l.name + ".scales")};
      w = awq_unpack(t, awq->group_size, l.out, l.in, source, l.name);
    }
    QT_CHECK(!tensors.count(l.name + ".weight"), source, ": layer '", l.name, "' has both '",
             l.name, ".qweight' and '", l.name, ".weight'");
    // The model is built from float weights; the quantized kernel replaces them below.
    tensors[l.name + ".weight"] = w.dequantize();
    quantized.emplace_back(l.name, std::move(w));
  }
  for (const auto& [name, t] : tensors)
    for (const char* suffix : {".qweight", ".qzeros", ".scales", ".g_idx"})
      QT_CHECK(!ends_with(name, suffix), source, ": tensor '", name,
               "' belongs to no quantized layer of the model (", config.num_hidden_layers,
               " decoder layers; its layer has no .qweight)");

  auto model = std::make_unique<LlamaModel>(spec, std::move(config), tensors);
  for (auto& [name, w] : quantized) {
    LayerSlot& slot = model->layer(name);
    try {
      const Backend& b = choose_backend(backend, LayerKind::kLinear, w.spec, nullptr);
      slot.set_kernel(
          b.make_kernel(LayerKind::kLinear, std::move(w), slot.bias(), slot.geometry()));
    } catch (const Error& e) {
      throw Error(dir.string() + ": layer '" + name + "': " + e.what());
    }
  }
  return model;
}

}  // namespace qtune
