// Hugging Face checkpoint folders: round trips (single file and sharded),
// bf16/fp16 conversion, and each malformed folder as a clean error.
#include "models/llama/hf_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "models/safetensors.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::TempDir;

LlamaConfig tiny_config() {
  LlamaConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.vocab_size = 11;
  c.max_position_embeddings = 32;
  return c;
}

std::map<std::string, at::Tensor> tensors_for(const LlamaConfig& c, uint64_t seed) {
  at::manual_seed(seed);
  std::map<std::string, at::Tensor> t;
  for (const std::string& name : llama_tensor_names(c)) {
    if (name.find("norm") != std::string::npos) {
      t[name] = 1 + 0.1 * at::randn({c.hidden_size});
      continue;
    }
    int64_t out = c.hidden_size, in = c.hidden_size;
    if (name.find("embed") != std::string::npos || name == "lm_head.weight") out = c.vocab_size;
    if (name.find("k_proj") != std::string::npos || name.find("v_proj") != std::string::npos)
      out = c.kv_dim();
    if (name.find("gate_proj") != std::string::npos || name.find("up_proj") != std::string::npos)
      out = c.intermediate_size;
    if (name.find("down_proj") != std::string::npos) in = c.intermediate_size;
    t[name] = name.find(".bias") != std::string::npos ? at::randn({out}) : at::randn({out, in});
  }
  return t;
}

bool bit_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

void write_text(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::trunc) << s;
}

TEST(HfCheckpoint, RoundTripIsBitExact) {
  for (int shards : {1, 3}) {
    TempDir dir;
    const LlamaConfig c = tiny_config();
    const auto tensors = tensors_for(c, 1);
    LlamaModel m("a", c, tensors);
    HfSaveOptions o;
    o.shards = shards;
    save_hf_model(dir.path(), m, o);
    EXPECT_EQ(std::filesystem::exists(dir / "model.safetensors.index.json"), shards > 1);
    if (shards > 1) {
      EXPECT_TRUE(std::filesystem::exists(dir / "model-00003-of-00003.safetensors"));
    }
    const HfCheckpoint ck = read_hf_checkpoint(dir.path());
    ASSERT_EQ(ck.tensors.size(), tensors.size()) << shards << " shards";
    for (const auto& [name, t] : tensors)
      EXPECT_TRUE(bit_equal(ck.tensors.at(name), t)) << name << ", " << shards << " shards";
    auto back = load_hf_model(dir.path(), "hf:" + dir.path().string());
    const at::Tensor ids = at::tensor({1, 5, 7, 2}, at::kLong).view({1, 4});
    EXPECT_TRUE(at::equal(back->forward(ids), m.forward(ids))) << shards << " shards";
    EXPECT_EQ(llama_config_to_json(back->config()), llama_config_to_json(c));
  }
}

TEST(HfCheckpoint, Bf16AndFp16CheckpointsConvertToFp32) {
  for (at::ScalarType dt : {at::kBFloat16, at::kHalf}) {
    TempDir dir;
    LlamaConfig c = tiny_config();
    c.torch_dtype = dt == at::kHalf ? "float16" : "bfloat16";
    c.tie_word_embeddings = true;
    auto tensors = tensors_for(c, 2);
    for (auto& [name, t] : tensors) t = t.to(dt);
    save_hf_checkpoint(dir.path(), c, tensors);
    EXPECT_EQ(read_hf_checkpoint(dir.path()).tensors.at("model.norm.weight").scalar_type(), dt);
    auto m = load_hf_model(dir.path(), "hf");
    const at::Tensor w = m->layer("model.layers.1.mlp.down_proj").weight();
    EXPECT_EQ(w.scalar_type(), at::kFloat);
    // Widening is exact: the fp32 values are the stored ones.
    EXPECT_TRUE(at::equal(w, tensors.at("model.layers.1.mlp.down_proj.weight").to(at::kFloat)));
    EXPECT_TRUE(at::equal(m->layer("lm_head").weight(),
                          tensors.at("model.embed_tokens.weight").to(at::kFloat)));
  }
}

TEST(HfCheckpoint, CopiesTokenizerFiles) {
  TempDir src, dst;
  write_text(src / "tokenizer.json", "{\"model\": {}}");
  write_text(src / "unrelated.txt", "x");
  const LlamaConfig c = tiny_config();
  HfSaveOptions o;
  o.tokenizer_from = src.path();
  save_hf_checkpoint(dst.path(), c, tensors_for(c, 3), o);
  EXPECT_EQ(testing::read_bytes(dst / "tokenizer.json"), "{\"model\": {}}");
  EXPECT_FALSE(std::filesystem::exists(dst / "unrelated.txt"));
}

class Malformed : public ::testing::Test {
 protected:
  void SetUp() override {
    HfSaveOptions o;
    o.shards = 2;
    save_hf_checkpoint(dir_.path(), c_, tensors_for(c_, 4), o);
    index_ = nlohmann::json::parse(testing::read_bytes(dir_ / "model.safetensors.index.json"));
  }
  void write_index() { write_text(dir_ / "model.safetensors.index.json", index_.dump()); }
  TempDir dir_;
  LlamaConfig c_ = tiny_config();
  nlohmann::json index_;
};

TEST_F(Malformed, MissingShard) {
  std::filesystem::remove(dir_ / "model-00002-of-00002.safetensors");
  expect_error([&] { read_hf_checkpoint(dir_.path()); },
               "shard 'model-00002-of-00002.safetensors'");
}

TEST_F(Malformed, TensorNotInItsShard) {
  const std::string shard = index_["weight_map"]["model.norm.weight"];
  index_["weight_map"]["model.norm.weight"] = shard == "model-00001-of-00002.safetensors"
                                                  ? "model-00002-of-00002.safetensors"
                                                  : "model-00001-of-00002.safetensors";
  write_index();
  expect_error([&] { read_hf_checkpoint(dir_.path()); }, "tensor 'model.norm.weight' is not in");
}

TEST_F(Malformed, TensorMissingForTheConfig) {
  index_["weight_map"].erase("model.layers.1.mlp.gate_proj.weight");
  write_index();
  expect_error([&] { read_hf_checkpoint(dir_.path()); },
               "model.safetensors.index.json: tensor 'model.layers.1.mlp.gate_proj.weight' is "
               "missing (config.json needs it)");
}

TEST_F(Malformed, IndexPointingOutside) {
  for (const std::string bad :
       {"../model-00001-of-00002.safetensors", "/etc/passwd", "sub/x", ""}) {
    index_["weight_map"]["model.norm.weight"] = bad;
    write_index();
    expect_error([&] { read_hf_checkpoint(dir_.path()); },
                 "must be a file name inside the checkpoint folder");
  }
}

TEST_F(Malformed, IndexNotJsonOrNoWeightMap) {
  write_text(dir_ / "model.safetensors.index.json", "{");
  expect_error([&] { read_hf_checkpoint(dir_.path()); }, "index.json: not valid JSON");
  write_text(dir_ / "model.safetensors.index.json", "{\"metadata\": {}}");
  expect_error([&] { read_hf_checkpoint(dir_.path()); }, "'weight_map' object");
}

TEST_F(Malformed, WrongShape) {
  TempDir dir;
  auto t = tensors_for(c_, 5);
  t["model.layers.0.self_attn.k_proj.weight"] = at::zeros({8, 8});  // kv_dim is 4
  save_hf_checkpoint(dir.path(), c_, t);
  expect_error(
      [&] { load_hf_model(dir.path(), "hf:" + dir.path().string()); },
      "tensor 'model.layers.0.self_attn.k_proj.weight' must have shape [4, 8], got [8, 8]");
}

TEST_F(Malformed, NoWeightsOrNoConfig) {
  TempDir empty;
  expect_error([&] { read_hf_checkpoint(empty.path()); }, "no config.json");
  write_llama_config(empty / "config.json", c_);
  expect_error([&] { read_hf_checkpoint(empty.path()); }, "neither model.safetensors nor");
  testing::write_bytes(empty / "model.safetensors", "garbage!");
  expect_error([&] { read_hf_checkpoint(empty.path()); }, "model.safetensors: header length");
}

}  // namespace
}  // namespace qtune
