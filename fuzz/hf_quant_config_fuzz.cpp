// The HF GPTQ/AWQ importers' parsers: config.json's quantization_config
// (storage/formats/hf_gptq_config.h, hf_awq_config.h) and the check of each
// layer's tensors against it (hf_tensor_desc.h), on tensors declared by a
// safetensors header (models/safetensors_header.h).
// Input: quantization_config JSON, a NUL byte, then a safetensors file.
// An accepted config must survive to_json -> from_json unchanged.
#include <cstring>
#include <string>

#include "fuzz/fuzz_support.h"
#include "models/safetensors_header.h"
#include "storage/formats/hf_awq_config.h"
#include "storage/formats/hf_gptq_config.h"
#include "storage/formats/hf_tensor_desc.h"

namespace {

using qtune::HfTensorKind;

std::string dtype_name(const std::string& st) {
  if (st == "I32") return "int32";
  if (st == "F16") return "float16";
  if (st == "BF16") return "bfloat16";
  if (st == "F32") return "float32";
  return "another dtype";
}

// The layer geometry the importer takes from the model: fixed here.
constexpr int64_t kOut = 64, kIn = 128;

void check_layer_tensors(const qtune::SafetensorsHeader& h, int64_t bits, int64_t group_size) {
  const int64_t groups = qtune::gptq_group_count(group_size, kIn);
  struct Want {
    const char* name;
    HfTensorKind kind;
    std::vector<int64_t> shape;
  };
  const Want wants[] = {{"layer.qweight", HfTensorKind::kInt32, {kIn * bits / 32, kOut}},
                        {"layer.qzeros", HfTensorKind::kInt32, {groups, kOut * bits / 32}},
                        {"layer.scales", HfTensorKind::kFloat, {groups, kOut}}};
  for (const Want& want : wants) {
    qtune::HfTensorDesc d;
    for (const auto& e : h.entries)
      if (e.name == want.name) d = {true, dtype_name(e.dtype->name), e.shape};
    qtune::check_hf_tensor_desc(d, want.kind, want.shape, "model.safetensors", want.name, "fuzz");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t json_size = nul ? static_cast<size_t>(nul - data) : size;
  const std::string json_text(reinterpret_cast<const char*>(data), json_size);
  const uint8_t* st = nul ? nul + 1 : data + size;
  const size_t st_size = size - json_size - (nul ? 1 : 0);
  qtune::fuzz::expect_only_qtune_errors([&] {
    qtune::Json j;
    try {
      j = qtune::Json::parse(json_text);
    } catch (const nlohmann::json::exception&) {
      return;  // the importer's JSON reader reports this; not the parser under test
    }
    int64_t bits = 4, group_size = 128;
    if (j.is_object() && j.contains("quant_method") && j["quant_method"] == "awq") {
      const auto c = qtune::AwqConfig::from_json(j, "config.json");
      qtune::fuzz::require(qtune::AwqConfig::from_json(c.to_json(), "x").to_json() == c.to_json(),
                           "AWQ config round trip");
      group_size = c.group_size;
    } else {
      const auto c = qtune::GptqConfig::from_json(j, "config.json");
      const qtune::Json again = qtune::GptqConfig::from_json(c.to_json(), "x").to_json();
      qtune::fuzz::require(again == c.to_json(), "GPTQ config round trip");
      for (const char* layer :
           {"model.layers.0.self_attn.q_proj", "lm_head", "model.layers.17.mlp"})
        (void)c.layer(layer);
      bits = c.base.bits;
      group_size = c.base.group_size;
    }
    if (st_size < 8) return;
    const uint64_t len = qtune::safetensors_header_length("model.safetensors", st, st_size);
    const auto h = qtune::parse_safetensors_header(
        "model.safetensors", std::string(reinterpret_cast<const char*>(st) + 8, len), st_size);
    check_layer_tensors(h, bits, group_size);
  });
  return 0;
}
