// The Llama-family architecture as Hugging Face's config.json describes it
// (model_type llama, mistral, qwen2). Fields qtune does not implement are
// refused with an error naming the file and the field, rather than ignored:
// a silently different architecture would give plausible but wrong logits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qtune {

/// rope_scaling: none, or Llama 3.1's frequency-dependent scaling.
struct RopeScaling {
  std::string type;  ///< "" = none, "llama3"
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  std::string model_type = "llama";  ///< llama | mistral | qwen2
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  ///< defaults to num_attention_heads
  int64_t head_dim = 0;             ///< defaults to hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  int64_t vocab_size = 0;
  bool tie_word_embeddings = false;
  /// q/k/v (and for llama, o) projections carry a bias. qwen2 always has q/k/v bias.
  bool attention_bias = false;
  std::string torch_dtype = "float32";  ///< of the stored weights; compute is fp32
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  ///< HF allows one id or a list
  /// Mistral/Qwen2 sliding-window attention: qtune implements full attention
  /// only, which equals it while the context is no longer than the window.
  std::optional<int64_t> sliding_window;

  bool qkv_bias() const { return attention_bias || model_type == "qwen2"; }
  bool o_bias() const { return attention_bias && model_type != "qwen2"; }
  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  /// Throws if a context of `tokens` positions needs what qtune does not
  /// implement (a sliding window shorter than it). `where` names the model.
  void check_context(int64_t tokens, const std::string& where) const;
};

/// Parses and validates a config.json object; `file` names it in errors.
LlamaConfig parse_llama_config(const nlohmann::json& j, const std::string& file);
/// Reads and parses a config.json file.
LlamaConfig read_llama_config(const std::filesystem::path& file);
/// The config.json object HF would write for `config` (architectures included).
nlohmann::json llama_config_to_json(const LlamaConfig& config);
void write_llama_config(const std::filesystem::path& file, const LlamaConfig& config);

}  // namespace qtune
