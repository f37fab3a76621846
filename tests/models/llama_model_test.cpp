// The decoder behind the Model adapter: block view, scale folding, GQA, KV
// cache and generation, on small random models (fixed seeds).
#include "models/llama/llama_model.h"

#include <gtest/gtest.h>

#include "models/llama/generate.h"
#include "tests/support/expect_error.h"

namespace qtune {
namespace {

using testing::expect_error;

LlamaConfig small_config(int64_t kv_heads = 2, const std::string& type = "llama") {
  LlamaConfig c;
  c.model_type = type;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = kv_heads;
  c.head_dim = 4;
  c.vocab_size = 37;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-6;
  c.eos_token_ids = {3};
  return c;
}

/// Random tensors for `c` (norm weights near 1 so folding changes them visibly).
std::map<std::string, at::Tensor> random_tensors(const LlamaConfig& c, uint64_t seed) {
  at::manual_seed(seed);
  std::map<std::string, at::Tensor> t;
  t["model.embed_tokens.weight"] = at::randn({c.vocab_size, c.hidden_size});
  t["model.norm.weight"] = 1 + 0.1 * at::randn({c.hidden_size});
  if (!c.tie_word_embeddings) t["lm_head.weight"] = at::randn({c.vocab_size, c.hidden_size}) * 0.3;
  const std::vector<int64_t> out{c.q_dim(),     c.kv_dim(),          c.kv_dim(),
                                 c.hidden_size, c.intermediate_size, c.intermediate_size,
                                 c.hidden_size};
  const std::vector<int64_t> in{c.hidden_size, c.hidden_size, c.hidden_size,      c.q_dim(),
                                c.hidden_size, c.hidden_size, c.intermediate_size};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    t[l + "input_layernorm.weight"] = 1 + 0.1 * at::randn({c.hidden_size});
    t[l + "post_attention_layernorm.weight"] = 1 + 0.1 * at::randn({c.hidden_size});
    for (int j = 0; j < kProjPerLayer; ++j) {
      t[llama_layer_name(i, j) + ".weight"] = at::randn({out[j], in[j]}) * 0.3;
      if (j <= kV && c.qkv_bias()) t[llama_layer_name(i, j) + ".bias"] = at::randn({out[j]}) * 0.1;
    }
  }
  return t;
}

at::Tensor some_ids(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(0, vocab, {b, t}, at::kLong);
}

// fp32 through two layers and a softmax: differences of a few ulps of logits ~10.
constexpr double kRtol = 1e-4, kAtol = 1e-4;

TEST(LlamaModel, ForwardShapeAndLayerNames) {
  const LlamaConfig c = small_config();
  LlamaModel m("test:llama", c, random_tensors(c, 1));
  const at::Tensor logits = m.forward(some_ids(2, 5, c.vocab_size, 2));
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{2, 5, 37}));
  EXPECT_EQ(logits.scalar_type(), at::kFloat);
  const auto layers = m.layers();
  ASSERT_EQ(layers.size(), 2u * 7 + 1);
  EXPECT_EQ(layers[0]->name(), "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(layers[6]->name(), "model.layers.0.mlp.down_proj");
  EXPECT_EQ(layers[7]->name(), "model.layers.1.self_attn.q_proj");
  EXPECT_EQ(layers.back()->name(), "lm_head");
  EXPECT_EQ(m.default_fp32_layers(), std::vector<std::string>{"lm_head"});
  EXPECT_EQ(m.block_layers(1).size(), 7u);
  EXPECT_EQ(m.block_layers(1)[3]->name(), "model.layers.1.self_attn.o_proj");
  EXPECT_EQ(m.extra_tensors().size(), 2u + 2 * 2);
}

TEST(LlamaModel, BlockChainEqualsForward) {
  const LlamaConfig c = small_config();
  LlamaModel m("test:llama", c, random_tensors(c, 3));
  const at::Tensor ids = some_ids(2, 6, c.vocab_size, 4);
  at::Tensor h = m.block_input(ids);
  EXPECT_EQ(h.sizes(), (at::IntArrayRef{2, 6, 16}));
  for (int64_t b = 0; b < m.num_blocks(); ++b) h = m.run_block(b, h);
  EXPECT_TRUE(at::equal(m.head(h), m.forward(ids)));
}

TEST(LlamaModel, CausalLogitsIgnoreLaterTokens) {
  const LlamaConfig c = small_config();
  LlamaModel m("test:llama", c, random_tensors(c, 5));
  const at::Tensor ids = some_ids(1, 8, c.vocab_size, 6);
  at::Tensor changed = ids.clone();
  changed[0][7] = (ids[0][7].item<int64_t>() + 1) % c.vocab_size;
  const at::Tensor a = m.forward(ids), b = m.forward(changed);
  EXPECT_TRUE(at::allclose(a.slice(1, 0, 7), b.slice(1, 0, 7), kRtol, kAtol));
  EXPECT_FALSE(at::allclose(a.slice(1, 7), b.slice(1, 7), kRtol, kAtol));
}

TEST(LlamaModel, GqaEqualsMhaWithRepeatedKvWeights) {
  const LlamaConfig gqa = small_config(2);
  const auto t = random_tensors(gqa, 7);
  LlamaConfig mha_cfg = small_config(4);
  auto t_mha = t;
  // Query head h reads kv head h / 2: repeat each kv head's rows (head_dim 4) twice.
  const at::Tensor rows = at::tensor({0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7}, at::kLong);
  for (int64_t i = 0; i < 2; ++i) {
    for (int j : {kK, kV}) {
      const std::string n = llama_layer_name(i, j) + ".weight";
      t_mha[n] = t.at(n).index_select(0, rows);
    }
  }
  LlamaModel a("gqa", gqa, t), b("mha", mha_cfg, t_mha);
  const at::Tensor ids = some_ids(2, 7, gqa.vocab_size, 8);
  EXPECT_TRUE(at::allclose(a.forward(ids), b.forward(ids), kRtol, kAtol));
}

TEST(LlamaModel, FoldingEveryScaleGroupKeepsTheOutput) {
  for (int64_t kv : {2, 4}) {
    const LlamaConfig c = small_config(kv);
    LlamaModel m("test:llama", c, random_tensors(c, 9));
    const std::unique_ptr<Model> original = m.clone();
    const at::Tensor ids = some_ids(2, 5, c.vocab_size, 10);
    const at::Tensor before = m.forward(ids);
    at::manual_seed(11);
    for (int64_t b = 0; b < m.num_blocks(); ++b) {
      const auto groups = m.input_scale_groups(b);
      ASSERT_EQ(groups.size(), 4u);
      EXPECT_EQ(groups[0].producer,
                "model.layers." + std::to_string(b) + ".input_layernorm.weight");
      EXPECT_EQ(groups[1].producer, kv == 4 ? llama_layer_name(b, kV) : "") << "kv heads " << kv;
      for (const InputScaleGroup& g : groups) {
        const int64_t in = m.layer(g.layers[0]).weight().size(1);
        m.fold_input_scales(g, at::rand({in}) + 0.5);
      }
    }
    EXPECT_TRUE(at::allclose(m.forward(ids), before, kRtol, kAtol)) << "kv heads " << kv;
    // The clone kept the old norm weights and layer weights.
    EXPECT_TRUE(at::equal(original->forward(ids), before));
    EXPECT_FALSE(at::equal(m.extra_tensors().at("model.layers.0.input_layernorm.weight"),
                           original->extra_tensors().at("model.layers.0.input_layernorm.weight")));
  }
}

TEST(LlamaModel, TiedHeadSharesTheEmbedding) {
  LlamaConfig c = small_config();
  c.tie_word_embeddings = true;
  LlamaModel m("tied", c, random_tensors(c, 12));
  EXPECT_TRUE(
      m.layer("lm_head").weight().is_same(m.extra_tensors().at("model.embed_tokens.weight")));
  EXPECT_EQ(m.hf_tensors().count("lm_head.weight"), 0u);
  LlamaConfig u = small_config();
  expect_error([&] { LlamaModel("untied", u, random_tensors(c, 12)); },
               "'lm_head.weight' is missing");
}

TEST(LlamaModel, Qwen2NeedsQkvBias) {
  const LlamaConfig c = small_config(2, "qwen2");
  auto t = random_tensors(c, 13);
  LlamaModel m("qwen", c, t);
  EXPECT_TRUE(m.layer("model.layers.0.self_attn.q_proj").bias().has_value());
  EXPECT_FALSE(m.layer("model.layers.0.self_attn.o_proj").bias().has_value());
  t.erase("model.layers.1.self_attn.k_proj.bias");
  expect_error([&] { LlamaModel("qwen", c, t); },
               "model qwen: tensor 'model.layers.1.self_attn.k_proj.bias' is missing");
  t = random_tensors(c, 13);
  t["model.layers.0.mlp.up_proj.weight"] = at::zeros({3, 3});
  expect_error([&] { LlamaModel("qwen", c, t); },
               "'model.layers.0.mlp.up_proj.weight' must have shape [24, 16]");
}

TEST(LlamaModel, BadInputsAreErrors) {
  LlamaConfig c = small_config(2, "mistral");
  c.sliding_window = 8;
  LlamaModel m("m", c, random_tensors(c, 14));
  expect_error([&] { m.forward(at::full({1, 2}, 37, at::kLong)); }, "token ids must be in [0, 37)");
  expect_error([&] { m.forward(at::zeros({1, 2})); }, "int64 token ids");
  expect_error([&] { m.forward(at::zeros({1, 9}, at::kLong)); }, "sliding_window of 8");
  expect_error([&] { m.run_block(2, at::zeros({1, 2, 16})); }, "no block 2");
}

TEST(LlamaModel, CachedForwardEqualsFullForward) {
  const LlamaConfig c = small_config();
  LlamaModel m("test:llama", c, random_tensors(c, 15));
  const at::Tensor ids = some_ids(2, 9, c.vocab_size, 16);
  const at::Tensor full = m.forward(ids);
  LlamaKvCache cache;
  // Prefill 4, then 1, then 4: each chunk's logits are the full run's rows.
  int64_t at_pos = 0;
  for (int64_t n : {4, 1, 4}) {
    const at::Tensor part = m.forward_cached(ids.slice(1, at_pos, at_pos + n), cache);
    EXPECT_TRUE(at::allclose(part, full.slice(1, at_pos, at_pos + n), kRtol, kAtol))
        << "chunk at " << at_pos;
    at_pos += n;
  }
  EXPECT_EQ(cache[0].length(), 9);
}

TEST(LlamaModel, CachedGenerationEqualsRecomputing) {
  const LlamaConfig c = small_config();
  LlamaModel m("test:llama", c, random_tensors(c, 17));
  GenerateOptions o;
  o.max_new_tokens = 12;
  o.stop_at_eos = false;
  const std::vector<int64_t> prompt{5, 9, 1};
  const auto cached = generate(m, prompt, o);
  ASSERT_EQ(cached.size(), 12u);
  EXPECT_EQ(cached, generate_uncached(m, prompt, o));
  o.top_k = 5;
  o.seed = 42;
  const auto sampled = generate(m, prompt, o);
  EXPECT_EQ(sampled, generate(m, prompt, o)) << "same seed, same tokens";
  EXPECT_EQ(sampled, generate_uncached(m, prompt, o));
  bool differs = false;
  for (uint64_t seed = 43; seed < 48 && !differs; ++seed) {
    o.seed = seed;
    differs = generate(m, prompt, o) != sampled;
  }
  EXPECT_TRUE(differs) << "top-k 5 sampling never depended on the seed";
}

TEST(LlamaModel, GenerationStopsAtEos) {
  const LlamaConfig c = small_config();
  LlamaModel m("test:llama", c, random_tensors(c, 17));
  GenerateOptions o;
  o.max_new_tokens = 12;
  o.stop_at_eos = false;
  const auto free_run = generate(m, {5, 9, 1}, o);
  // Make the first greedy token the eos id: generation stops right after it.
  LlamaConfig stop = c;
  stop.eos_token_ids = {free_run[0]};
  LlamaModel m2("test:llama", stop, random_tensors(c, 17));
  o.stop_at_eos = true;
  EXPECT_EQ(generate(m2, {5, 9, 1}, o), std::vector<int64_t>{free_run[0]});
  expect_error([&] { generate(m, {}, o); }, "prompt has no tokens");
  o.max_new_tokens = 100;
  expect_error([&] { generate(m, {1}, o); }, "exceed the model's 64 positions");
}

}  // namespace
}  // namespace qtune
