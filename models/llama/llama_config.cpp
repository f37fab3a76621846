#include "models/llama/llama_config.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace qtune {

namespace {

using nlohmann::json;

int64_t get_int(const json& j, const std::string& file, const char* key,
                std::optional<int64_t> fallback = std::nullopt) {
  if (!j.contains(key) || j[key].is_null()) {
    QT_CHECK(fallback.has_value(), file, ": field '", key, "' is missing");
    return *fallback;
  }
  const json& v = j[key];
  QT_CHECK(v.is_number_integer(), file, ": field '", key, "' must be an integer, got ", v.dump());
  return v.get<int64_t>();
}

int64_t get_positive(const json& j, const std::string& file, const char* key,
                     std::optional<int64_t> fallback = std::nullopt) {
  const int64_t v = get_int(j, file, key, fallback);
  QT_CHECK(v > 0, file, ": field '", key, "' must be > 0, got ", v);
  return v;
}

double get_double(const json& j, const std::string& file, const char* key, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  QT_CHECK(v.is_number(), file, ": field '", key, "' must be a number, got ", v.dump());
  return v.get<double>();
}

bool get_bool(const json& j, const std::string& file, const char* key, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  QT_CHECK(v.is_boolean(), file, ": field '", key, "' must be true or false, got ", v.dump());
  return v.get<bool>();
}

RopeScaling parse_rope_scaling(const json& j, const std::string& file) {
  RopeScaling r;
  if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return r;
  const json& s = j["rope_scaling"];
  QT_CHECK(s.is_object(), file, ": field 'rope_scaling' must be null or an object, got ", s.dump());
  // Transformers renamed "type" to "rope_type"; checkpoints carry either.
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    if (s.contains(key) && s[key].is_string()) {
      type = s[key].get<std::string>();
      break;
    }
  }
  if (type == "default" || type.empty()) return r;
  QT_CHECK(type == "llama3", file, ": rope_scaling type '", type,
           "' is not supported (expected null or \"llama3\")");
  r.type = type;
  const std::string f = file + ": rope_scaling";
  r.factor = get_double(s, f, "factor", r.factor);
  r.low_freq_factor = get_double(s, f, "low_freq_factor", r.low_freq_factor);
  r.high_freq_factor = get_double(s, f, "high_freq_factor", r.high_freq_factor);
  r.original_max_position_embeddings =
      get_positive(s, f, "original_max_position_embeddings", r.original_max_position_embeddings);
  QT_CHECK(r.factor > 0, f, ": field 'factor' must be > 0, got ", r.factor);
  QT_CHECK(r.high_freq_factor > r.low_freq_factor && r.low_freq_factor > 0, f,
           ": need 0 < low_freq_factor < high_freq_factor, got ", r.low_freq_factor, " and ",
           r.high_freq_factor);
  return r;
}

}  // namespace

void LlamaConfig::check_context(int64_t tokens, const std::string& where) const {
  QT_CHECK(!sliding_window || tokens <= *sliding_window, where, ": a context of ", tokens,
           " tokens exceeds the config's sliding_window of ", *sliding_window,
           " (sliding-window attention is not supported; use a shorter context)");
}

LlamaConfig parse_llama_config(const json& j, const std::string& file) {
  QT_CHECK(j.is_object(), file, ": expected a JSON object, got ", j.type_name());
  LlamaConfig c;
  QT_CHECK(j.contains("model_type") && j["model_type"].is_string(), file,
           ": field 'model_type' is missing (expected llama, mistral or qwen2)");
  c.model_type = j["model_type"].get<std::string>();
  QT_CHECK(c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2", file,
           ": model_type '", c.model_type, "' is not supported (expected llama, mistral or qwen2)");

  c.hidden_size = get_positive(j, file, "hidden_size");
  c.intermediate_size = get_positive(j, file, "intermediate_size");
  c.num_hidden_layers = get_positive(j, file, "num_hidden_layers");
  c.num_attention_heads = get_positive(j, file, "num_attention_heads");
  c.num_key_value_heads = get_positive(j, file, "num_key_value_heads", c.num_attention_heads);
  QT_CHECK(c.num_attention_heads % c.num_key_value_heads == 0, file, ": num_attention_heads (",
           c.num_attention_heads, ") must be a multiple of num_key_value_heads (",
           c.num_key_value_heads, ")");
  const bool has_head_dim = j.contains("head_dim") && !j["head_dim"].is_null();
  if (!has_head_dim) {
    QT_CHECK(c.hidden_size % c.num_attention_heads == 0, file, ": hidden_size (", c.hidden_size,
             ") must be a multiple of num_attention_heads (", c.num_attention_heads,
             ") when head_dim is not given");
  }
  c.head_dim = get_positive(j, file, "head_dim", c.hidden_size / c.num_attention_heads);
  QT_CHECK(c.head_dim % 2 == 0, file, ": field 'head_dim' must be even for rotary embeddings, got ",
           c.head_dim);
  c.rms_norm_eps = get_double(j, file, "rms_norm_eps", c.rms_norm_eps);
  QT_CHECK(c.rms_norm_eps >= 0, file, ": field 'rms_norm_eps' must be >= 0, got ", c.rms_norm_eps);
  c.rope_theta = get_double(j, file, "rope_theta", c.rope_theta);
  QT_CHECK(c.rope_theta > 0, file, ": field 'rope_theta' must be > 0, got ", c.rope_theta);
  c.rope_scaling = parse_rope_scaling(j, file);
  c.max_position_embeddings =
      get_positive(j, file, "max_position_embeddings", c.max_position_embeddings);
  c.vocab_size = get_positive(j, file, "vocab_size");
  c.tie_word_embeddings = get_bool(j, file, "tie_word_embeddings", false);
  c.attention_bias = get_bool(j, file, "attention_bias", false);
  QT_CHECK(!get_bool(j, file, "mlp_bias", false), file,
           ": field 'mlp_bias' = true is not supported (expected false)");
  if (j.contains("hidden_act") && !j["hidden_act"].is_null()) {
    QT_CHECK(j["hidden_act"].is_string() && j["hidden_act"].get<std::string>() == "silu", file,
             ": field 'hidden_act' must be \"silu\" (SwiGLU), got ", j["hidden_act"].dump());
  }
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    QT_CHECK(j[key].is_string(), file, ": field '", key, "' must be a string, got ", j[key].dump());
    c.torch_dtype = j[key].get<std::string>();
    QT_CHECK(
        c.torch_dtype == "float32" || c.torch_dtype == "float16" || c.torch_dtype == "bfloat16",
        file, ": field '", key, "' must be float32, float16 or bfloat16, got '", c.torch_dtype,
        "'");
    break;
  }
  if (j.contains("bos_token_id") && !j["bos_token_id"].is_null())
    c.bos_token_id = get_int(j, file, "bos_token_id");
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const json& e = j["eos_token_id"];
    if (e.is_array()) {
      for (const json& id : e) {
        QT_CHECK(id.is_number_integer(), file,
                 ": field 'eos_token_id' must be an integer or a list of integers, got ", e.dump());
        c.eos_token_ids.push_back(id.get<int64_t>());
      }
    } else {
      c.eos_token_ids.push_back(get_int(j, file, "eos_token_id"));
    }
  }
  // Qwen2 carries a window it does not use unless use_sliding_window is set.
  const bool window_used =
      c.model_type == "mistral" || get_bool(j, file, "use_sliding_window", false);
  if (window_used && j.contains("sliding_window") && !j["sliding_window"].is_null())
    c.sliding_window = get_positive(j, file, "sliding_window");
  return c;
}

LlamaConfig read_llama_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  QT_CHECK(in, file.string(), ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(file.string() + ": not valid JSON (" + e.what() + ")");
  }
  return parse_llama_config(j, file.string());
}

json llama_config_to_json(const LlamaConfig& c) {
  static const std::map<std::string, std::string> kArch{{"llama", "LlamaForCausalLM"},
                                                        {"mistral", "MistralForCausalLM"},
                                                        {"qwen2", "Qwen2ForCausalLM"}};
  json j;
  j["architectures"] = {kArch.count(c.model_type) ? kArch.at(c.model_type) : "LlamaForCausalLM"};
  j["model_type"] = c.model_type;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {
        {"rope_type", c.rope_scaling.type},
        {"factor", c.rope_scaling.factor},
        {"low_freq_factor", c.rope_scaling.low_freq_factor},
        {"high_freq_factor", c.rope_scaling.high_freq_factor},
        {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["vocab_size"] = c.vocab_size;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = c.attention_bias;
  j["mlp_bias"] = false;
  j["torch_dtype"] = c.torch_dtype;
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  if (c.eos_token_ids.size() > 1) j["eos_token_id"] = c.eos_token_ids;
  if (c.model_type == "qwen2") j["use_sliding_window"] = c.sliding_window.has_value();
  if (c.sliding_window)
    j["sliding_window"] = *c.sliding_window;
  else if (c.model_type == "mistral")
    j["sliding_window"] = nullptr;
  return j;
}

void write_llama_config(const std::filesystem::path& file, const LlamaConfig& config) {
  std::ofstream out(file, std::ios::trunc);
  QT_CHECK(out, file.string(), ": cannot create");
  out << llama_config_to_json(config).dump(2) << "\n";
  out.flush();
  QT_CHECK(out, file.string(), ": write failed");
}

}  // namespace qtune
