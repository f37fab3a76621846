#include "models/llama/hf_checkpoint.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "models/safetensors.h"

namespace qtune {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kIndex = "model.safetensors.index.json";
constexpr const char* kSingle = "model.safetensors";

std::string shard_name(int k, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", k, n);
  return buf;
}

json read_json(const fs::path& file) {
  std::ifstream in(file);
  QT_CHECK(in, file.string(), ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

/// A weight-map file name must name a file in the checkpoint folder itself.
void check_shard_name(const fs::path& index, const std::string& tensor, const std::string& name) {
  const fs::path p(name);
  QT_CHECK(!name.empty() && !p.has_root_path() && p.has_filename() && p.filename() == p &&
               name != "." && name != "..",
           index.string(), ": weight_map['", tensor, "'] = '", name,
           "' must be a file name inside the checkpoint folder");
}

std::map<std::string, at::Tensor> read_sharded(const fs::path& dir) {
  const fs::path index = dir / kIndex;
  const json j = read_json(index);
  QT_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(), index.string(),
           ": expected an object with a 'weight_map' object");
  std::map<std::string, std::vector<std::string>> by_file;  // file -> tensors it must hold
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    QT_CHECK(file.is_string(), index.string(), ": weight_map['", tensor,
             "'] must be a file name, got ", file.dump());
    check_shard_name(index, tensor, file.get<std::string>());
    by_file[file.get<std::string>()].push_back(tensor);
  }
  for (const auto& [file, names] : by_file) {
    std::error_code ec;
    QT_CHECK(fs::is_regular_file(dir / file, ec), index.string(), ": shard '", file, "' (holding '",
             names.front(), "') does not exist in ", dir.string());
  }
  std::map<std::string, at::Tensor> out;
  for (const auto& [file, names] : by_file) {
    SafetensorsFile shard = map_safetensors(dir / file);
    for (const std::string& name : names) {
      auto it = shard.tensors.find(name);
      QT_CHECK(it != shard.tensors.end(), index.string(), ": tensor '", name, "' is not in ",
               (dir / file).string(), " as the weight_map says");
      out.emplace(name, it->second);
    }
  }
  return out;
}

}  // namespace

at::ScalarType dtype_of_torch_dtype(const std::string& torch_dtype) {
  if (torch_dtype == "float16") return at::kHalf;
  if (torch_dtype == "bfloat16") return at::kBFloat16;
  QT_CHECK(torch_dtype == "float32", "torch_dtype must be float32, float16 or bfloat16, got '",
           torch_dtype, "'");
  return at::kFloat;
}

std::string torch_dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "float32";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    default:
      return "";
  }
}

const std::vector<std::string>& hf_tokenizer_files() {
  static const std::vector<std::string> files{"tokenizer.json", "tokenizer.model",
                                              "tokenizer_config.json", "special_tokens_map.json",
                                              "generation_config.json"};
  return files;
}

bool is_hf_checkpoint_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(dir / "config.json", ec);
}

std::vector<std::string> llama_tensor_names(const LlamaConfig& c) {
  std::vector<std::string> names{"model.embed_tokens.weight", "model.norm.weight"};
  if (!c.tie_word_embeddings) names.push_back("lm_head.weight");
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    names.push_back(layer + "input_layernorm.weight");
    names.push_back(layer + "post_attention_layernorm.weight");
    for (int j = 0; j < kProjPerLayer; ++j) {
      names.push_back(llama_layer_name(i, j) + ".weight");
      if ((j <= kV && c.qkv_bias()) || (j == kO && c.o_bias()))
        names.push_back(llama_layer_name(i, j) + ".bias");
    }
  }
  return names;
}

std::string hf_quant_method(const fs::path& dir) {
  const json j = read_json(dir / "config.json");
  if (!j.is_object() || !j.contains("quantization_config") || j["quantization_config"].is_null())
    return "";
  const json& q = j["quantization_config"];
  QT_CHECK(q.is_object() && q.contains("quant_method") && q["quant_method"].is_string(),
           (dir / "config.json").string(),
           ": quantization_config: expected an object with a 'quant_method' string, got ",
           q.dump());
  return q["quant_method"].get<std::string>();
}

std::map<std::string, at::Tensor> read_hf_tensors(const fs::path& dir, std::string* source) {
  std::error_code ec;
  const bool sharded = fs::is_regular_file(dir / kIndex, ec);
  QT_CHECK(sharded || fs::is_regular_file(dir / kSingle, ec), dir.string(), ": neither ", kSingle,
           " nor ", kIndex, " found");
  if (source) *source = (dir / (sharded ? kIndex : kSingle)).string();
  return sharded ? read_sharded(dir) : map_safetensors(dir / kSingle).tensors;
}

HfCheckpoint read_hf_checkpoint(const fs::path& dir) {
  std::error_code ec;
  QT_CHECK(fs::is_directory(dir, ec), dir.string(), ": not a directory");
  QT_CHECK(fs::is_regular_file(dir / "config.json", ec), dir.string(),
           ": no config.json (not a Hugging Face checkpoint folder)");
  const std::string method = hf_quant_method(dir);
  QT_CHECK(method.empty(), dir.string(), ": already quantized (", method,
           " checkpoint): qtune loads it with --model DIR to evaluate, bench, generate or "
           "export it, but does not quantize or tune it again");
  HfCheckpoint ck;
  ck.config = read_llama_config(dir / "config.json");
  std::string source;
  std::map<std::string, at::Tensor> all = read_hf_tensors(dir, &source);
  for (const std::string& name : llama_tensor_names(ck.config)) {
    auto it = all.find(name);
    QT_CHECK(it != all.end(), source, ": tensor '", name, "' is missing (config.json needs it)");
    ck.tensors.emplace(name, it->second);
  }
  // A tied checkpoint may still carry lm_head (some exporters write it); keep it.
  if (ck.config.tie_word_embeddings && all.count("lm_head.weight"))
    ck.tensors.emplace("lm_head.weight", all.at("lm_head.weight"));
  // config.json's torch_dtype is often what the model was trained in, not how
  // this copy stores it; the tensors say.
  const std::string stored =
      torch_dtype_name(ck.tensors.at("model.embed_tokens.weight").scalar_type());
  if (!stored.empty()) ck.config.torch_dtype = stored;
  return ck;
}

std::unique_ptr<LlamaModel> load_hf_model(const fs::path& dir, const std::string& spec,
                                          at::ScalarType weights_dtype) {
  HfCheckpoint ck = read_hf_checkpoint(dir);
  return std::make_unique<LlamaModel>(spec, std::move(ck.config), ck.tensors, dir, weights_dtype);
}

void write_hf_side_files(const fs::path& dir, const LlamaConfig& config, const fs::path& from) {
  std::error_code ec;
  const bool same = !from.empty() && fs::equivalent(from, dir, ec);
  if (!from.empty() && fs::is_regular_file(from / "config.json", ec)) {
    json j = read_json(from / "config.json");
    j["torch_dtype"] = config.torch_dtype;
    if (j.contains("dtype")) j["dtype"] = config.torch_dtype;
    // The weights written beside it are not in the source's quantized layout.
    j.erase("quantization_config");
    std::ofstream out(dir / "config.json", std::ios::trunc);
    out << j.dump(2) << "\n";
    out.flush();
    QT_CHECK(out, (dir / "config.json").string(), ": write failed");
  } else {
    write_llama_config(dir / "config.json", config);
  }
  if (from.empty() || same) return;
  for (const std::string& f : hf_tokenizer_files()) {
    if (!fs::is_regular_file(from / f, ec)) continue;
    fs::copy_file(from / f, dir / f, fs::copy_options::overwrite_existing, ec);
    QT_CHECK(!ec, (dir / f).string(), ": cannot copy from ", from.string(), ": ", ec.message());
  }
}

void save_hf_checkpoint(const fs::path& dir, const LlamaConfig& config,
                        const std::map<std::string, at::Tensor>& tensors,
                        const HfSaveOptions& options) {
  QT_CHECK(options.shards >= 1, "save_hf_checkpoint: shards must be >= 1, got ", options.shards);
  std::error_code ec;
  fs::create_directories(dir, ec);
  QT_CHECK(fs::is_directory(dir, ec), dir.string(), ": cannot create the folder: ", ec.message());
  write_llama_config(dir / "config.json", config);
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  // Stale weights of another layout must not be picked up next to the new ones.
  fs::remove(dir / kSingle, ec);
  fs::remove(dir / kIndex, ec);
  if (options.shards == 1) {
    write_safetensors(dir / kSingle, tensors, meta);
  } else {
    const int n = options.shards;
    std::vector<std::map<std::string, at::Tensor>> parts(n);
    const size_t per = (tensors.size() + n - 1) / n;
    size_t i = 0;
    json weight_map = json::object();
    uint64_t total = 0;
    for (const auto& [name, t] : tensors) {
      const int k = static_cast<int>(std::min<size_t>(i++ / std::max<size_t>(per, 1), n - 1));
      parts[k].emplace(name, t);
      weight_map[name] = shard_name(k + 1, n);
      total += static_cast<uint64_t>(t.numel()) * t.element_size();
    }
    for (int k = 0; k < n; ++k) write_safetensors(dir / shard_name(k + 1, n), parts[k], meta);
    const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    std::ofstream out(dir / kIndex, std::ios::trunc);
    out << index.dump(2) << "\n";
    out.flush();
    QT_CHECK(out, (dir / kIndex).string(), ": write failed");
  }
  if (!options.tokenizer_from.empty() &&
      fs::absolute(options.tokenizer_from, ec) != fs::absolute(dir, ec)) {
    for (const std::string& f : hf_tokenizer_files()) {
      if (!fs::is_regular_file(options.tokenizer_from / f, ec)) continue;
      fs::copy_file(options.tokenizer_from / f, dir / f, fs::copy_options::overwrite_existing, ec);
      QT_CHECK(!ec, (dir / f).string(), ": cannot copy from ", options.tokenizer_from.string(),
               ": ", ec.message());
    }
  }
}

void save_hf_model(const fs::path& dir, const LlamaModel& model, const HfSaveOptions& options) {
  save_hf_checkpoint(dir, model.config(), model.hf_tensors(), options);
}

}  // namespace qtune
