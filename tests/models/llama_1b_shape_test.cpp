// builtin:llama-1b-shape: the catalog entry has TinyLlama-1.1B's shapes, and
// its builder (random init, bf16 folder, 32000-token BPE) is tested on a
// scaled-down copy of the same recipe (hidden 64, 2 layers; the tokenizer
// is the real one): the full model takes 2.2 GB on disk and 4.4 GB in memory,
// too much for a unit test.
#include <gtest/gtest.h>

#include "models/builtin.h"
#include "models/llama/builtin_lm.h"
#include "models/llama/hf_checkpoint.h"
#include "models/llama/llama_init.h"
#include "models/safetensors.h"
#include "models/text/bible_corpus.h"
#include "models/text/tokenizer.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

constexpr const char* kSpec = "builtin:llama-1b-shape";

std::filesystem::path cache_dir() { return QTUNE_TEST_CACHE_DIR; }

TEST(Llama1bShape, CatalogEntryHasTinyLlamaShapes) {
  const BuiltinLmRecipe& r = builtin_lm_recipe(kSpec);
  const LlamaConfig& c = r.config;
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.num_hidden_layers, 22);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.intermediate_size, 5632);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(r.trained);
  EXPECT_EQ(r.stored_dtype, at::kBFloat16);
  EXPECT_EQ(lm_default_seqlen(kSpec, {}), 128);
  bool listed = false;
  for (const BuiltinInfo& b : list_builtin_models(cache_dir())) {
    if (b.spec != kSpec) continue;
    listed = true;
    EXPECT_NE(b.description.find("speed measurements only"), std::string::npos) << b.description;
    EXPECT_EQ(b.seqlen, 128);
    EXPECT_EQ(b.path, cache_dir() / "llama-1b-shape");
  }
  EXPECT_TRUE(listed);
  // TinyLlama-1.1B's parameter count: 1,100,048,384.
  int64_t params = 2 * c.vocab_size * c.hidden_size + c.hidden_size;
  params +=
      c.num_hidden_layers * (2 * c.hidden_size + c.hidden_size * (c.q_dim() + 2 * c.kv_dim()) +
                             c.q_dim() * c.hidden_size + 3 * c.hidden_size * c.intermediate_size);
  EXPECT_EQ(params, 1100048384);
}

BuiltinLmRecipe scaled_down(uint64_t seed) {
  BuiltinLmRecipe r = builtin_lm_recipe(kSpec);
  r.spec = "builtin:llama-1b-shape-scaled-test";
  r.dir_name = "llama-1b-shape-scaled-test";
  r.config.hidden_size = 64;
  r.config.num_hidden_layers = 2;
  r.config.num_attention_heads = 4;
  r.config.num_key_value_heads = 2;
  r.config.head_dim = 16;
  r.config.intermediate_size = 160;
  r.recipe.seed = seed;
  return r;
}

class Llama1bShapeBuilder : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(ensure_builtin_lm(scaled_down(20261201), cache_dir(), false));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::filesystem::path* dir_;
};
std::filesystem::path* Llama1bShapeBuilder::dir_ = nullptr;

TEST_F(Llama1bShapeBuilder, FolderHoldsTheRecipesDrawsInBf16) {
  const BuiltinLmRecipe r = scaled_down(20261201);
  EXPECT_EQ(*dir_, cache_dir() / r.dir_name);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", kBuiltinLmTagFile})
    EXPECT_TRUE(std::filesystem::is_regular_file(*dir_ / f)) << f;
  EXPECT_EQ(testing::read_bytes(*dir_ / kBuiltinLmTagFile), r.tag());

  const HfCheckpoint ck = read_hf_checkpoint(*dir_);
  EXPECT_EQ(ck.config.vocab_size, 32000);
  EXPECT_EQ(ck.config.hidden_size, 64);
  EXPECT_FALSE(ck.config.tie_word_embeddings);
  const std::vector<std::string> names = llama_tensor_names(ck.config);
  ASSERT_EQ(ck.tensors.size(), names.size());
  ASSERT_TRUE(ck.tensors.count("lm_head.weight"));
  // The reference: the same draws again, from a generator with the recipe's seed.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(r.recipe.seed);
  const auto expected = init_llama_tensors(ck.config, r.recipe.init_std, gen, at::kBFloat16);
  for (const std::string& name : names) {
    const at::Tensor& t = ck.tensors.at(name);
    EXPECT_EQ(t.scalar_type(), at::kBFloat16) << name;
    ASSERT_TRUE(t.equal(expected.at(name))) << name;
  }
  // Scaled like a real init: N(0, 0.02) matrices, norms at 1.
  const at::Tensor embed = ck.tensors.at("model.embed_tokens.weight").to(at::kFloat);
  EXPECT_NEAR(embed.std().item<double>(), 0.02, 0.0005);
  EXPECT_NEAR(embed.mean().item<double>(), 0.0, 0.0005);
  EXPECT_TRUE(ck.tensors.at("model.norm.weight").to(at::kFloat).eq(1).all().item<bool>());
  EXPECT_FALSE(ck.tensors.at("lm_head.weight").equal(ck.tensors.at("model.embed_tokens.weight")));
}

TEST_F(Llama1bShapeBuilder, ReloadsAsFp32ToTheSameValues) {
  const HfCheckpoint ck = read_hf_checkpoint(*dir_);
  const std::unique_ptr<LlamaModel> m = load_hf_model(*dir_, "hf:" + dir_->string());
  const auto loaded = m->hf_tensors();
  ASSERT_EQ(loaded.size(), ck.tensors.size());
  for (const auto& [name, stored] : ck.tensors) {
    const at::Tensor& t = loaded.at(name);
    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
    EXPECT_TRUE(t.equal(stored.to(at::kFloat))) << name;
  }
  // A second ensure finds the folder current and leaves it alone.
  const auto before = std::filesystem::last_write_time(*dir_ / "model.safetensors");
  EXPECT_EQ(ensure_builtin_lm(scaled_down(20261201), cache_dir(), false), *dir_);
  EXPECT_EQ(std::filesystem::last_write_time(*dir_ / "model.safetensors"), before);
  // Logits are finite and not constant: the random model computes something.
  const at::Tensor logits = m->forward(at::arange(0, 16, at::kLong).unsqueeze(0) * 1999);
  EXPECT_TRUE(logits.isfinite().all().item<bool>());
  EXPECT_GT(logits.std().item<double>(), 0.0);
}

TEST_F(Llama1bShapeBuilder, TokenizerHas32000TokensAndRoundTrips) {
  const TokenizerPtr tok = load_tokenizer(*dir_);
  EXPECT_EQ(tok->vocab_size(), 32000);
  const std::string verse = bible_splits().heldout.substr(0, 2000);
  const std::vector<std::string> texts{verse, "naïve café 日本語 \t\r\n  x",
                                       std::string("\x00\xff\x80", 3)};
  for (const std::string& t : texts) {
    const std::vector<int64_t> ids = tok->encode(t);
    ASSERT_FALSE(ids.empty());
    for (int64_t id : ids) EXPECT_LT(id, 32000);
    EXPECT_EQ(tok->decode(ids), t);
  }
  // 32000 tokens compress the bible: fewer than one token per 3 bytes.
  EXPECT_LT(tok->encode(verse).size() * 3, verse.size());
}

// A folder written by another recipe (here: another seed) is stale and rebuilt.
TEST(Llama1bShapeRebuild, AnotherRecipeIsRebuilt) {
  testing::TempDir tmp;
  // 20 kB of text: a quick tokenizer (padded to 32000), the same code path.
  const auto recipe = [](uint64_t seed) {
    BuiltinLmRecipe r = scaled_down(seed);
    r.text_bytes = 20000;
    return r;
  };
  const auto a = ensure_builtin_lm(recipe(1), tmp.path(), false);
  const at::Tensor first =
      read_hf_checkpoint(a).tensors.at("model.layers.0.mlp.up_proj.weight").clone();
  const auto b = ensure_builtin_lm(recipe(2), tmp.path(), false);
  EXPECT_EQ(a, b);
  EXPECT_EQ(testing::read_bytes(b / kBuiltinLmTagFile), recipe(2).tag());
  EXPECT_EQ(load_tokenizer(b)->vocab_size(), 32000);
  EXPECT_FALSE(read_hf_checkpoint(b).tensors.at("model.layers.0.mlp.up_proj.weight").equal(first));
}

}  // namespace
}  // namespace qtune
