#include "models/llama/llama_config.h"

#include <gtest/gtest.h>

#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using nlohmann::json;
using testing::expect_error;

json minimal(const std::string& type = "llama") {
  return {{"model_type", type},     {"hidden_size", 64},        {"intermediate_size", 128},
          {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"vocab_size", 100}};
}

TEST(LlamaConfig, DefaultsFollowHuggingFace) {
  const LlamaConfig c = parse_llama_config(minimal(), "config.json");
  EXPECT_EQ(c.num_key_value_heads, 4);  // = heads
  EXPECT_EQ(c.head_dim, 16);            // hidden / heads
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_TRUE(c.rope_scaling.type.empty());
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias());
  EXPECT_FALSE(c.sliding_window.has_value());
  EXPECT_TRUE(c.eos_token_ids.empty());
}

TEST(LlamaConfig, ReadsEveryField) {
  json j = minimal();
  j["num_key_value_heads"] = 2;
  j["head_dim"] = 32;
  j["rms_norm_eps"] = 1e-5;
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  j["max_position_embeddings"] = 131072;
  j["tie_word_embeddings"] = true;
  j["torch_dtype"] = "bfloat16";
  j["bos_token_id"] = 1;
  j["eos_token_id"] = json::array({2, 3});
  const LlamaConfig c = parse_llama_config(j, "config.json");
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.q_dim(), 128);
  EXPECT_EQ(c.kv_dim(), 64);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 3}));
}

TEST(LlamaConfig, Qwen2HasQkvBiasAndIgnoresAnUnusedWindow) {
  json j = minimal("qwen2");
  j["sliding_window"] = 32;
  j["use_sliding_window"] = false;
  const LlamaConfig c = parse_llama_config(j, "config.json");
  EXPECT_TRUE(c.qkv_bias());
  EXPECT_FALSE(c.o_bias());
  EXPECT_FALSE(c.sliding_window.has_value());
  c.check_context(1000, "m");
}

TEST(LlamaConfig, MistralWindowShorterThanTheContextIsRefused) {
  json j = minimal("mistral");
  j["sliding_window"] = 16;
  const LlamaConfig c = parse_llama_config(j, "config.json");
  c.check_context(16, "m");
  expect_error([&] { c.check_context(17, "model x"); }, "sliding_window of 16");
  j["sliding_window"] = nullptr;
  parse_llama_config(j, "config.json").check_context(100000, "m");
}

TEST(LlamaConfig, UnsupportedInputsNameFileAndField) {
  expect_error([] { parse_llama_config(minimal("gpt2"), "dir/config.json"); },
               "dir/config.json: model_type 'gpt2' is not supported");
  json j = minimal();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  expect_error([&] { parse_llama_config(j, "c.json"); }, "c.json: rope_scaling type 'linear'");
  j = minimal();
  j.erase("hidden_size");
  expect_error([&] { parse_llama_config(j, "c.json"); }, "c.json: field 'hidden_size' is missing");
  j = minimal();
  j["num_key_value_heads"] = 3;
  expect_error([&] { parse_llama_config(j, "c.json"); }, "multiple of num_key_value_heads");
  j = minimal();
  j["hidden_act"] = "gelu";
  expect_error([&] { parse_llama_config(j, "c.json"); }, "c.json: field 'hidden_act'");
  j = minimal();
  j["mlp_bias"] = true;
  expect_error([&] { parse_llama_config(j, "c.json"); }, "'mlp_bias'");
  j = minimal();
  j["vocab_size"] = "100";
  expect_error([&] { parse_llama_config(j, "c.json"); }, "field 'vocab_size' must be an integer");
  j = minimal();
  j["torch_dtype"] = "float8";
  expect_error([&] { parse_llama_config(j, "c.json"); }, "field 'torch_dtype'");
  expect_error([] { parse_llama_config(json::array(), "c.json"); }, "c.json: expected a JSON");
}

TEST(LlamaConfig, WrittenConfigReadsBackEqual) {
  testing::TempDir dir;
  json j = minimal("qwen2");
  j["num_key_value_heads"] = 2;
  j["rope_scaling"] = {{"type", "llama3"},
                       {"factor", 4.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 8.0},
                       {"original_max_position_embeddings", 1000}};
  j["tie_word_embeddings"] = true;
  j["eos_token_id"] = 7;
  const LlamaConfig a = parse_llama_config(j, "c.json");
  write_llama_config(dir / "config.json", a);
  const LlamaConfig b = read_llama_config(dir / "config.json");
  EXPECT_EQ(llama_config_to_json(a), llama_config_to_json(b));
  EXPECT_EQ(b.model_type, "qwen2");
  EXPECT_EQ(b.num_key_value_heads, 2);
  EXPECT_EQ(b.rope_scaling.original_max_position_embeddings, 1000);
  EXPECT_EQ(b.eos_token_ids, std::vector<int64_t>{7});
  testing::write_bytes(dir / "bad.json", "{\"model_type\": ");
  expect_error([&] { read_llama_config(dir / "bad.json"); }, "bad.json: not valid JSON");
}

}  // namespace
}  // namespace qtune
