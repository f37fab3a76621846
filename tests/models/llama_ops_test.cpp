// The decoder's operations against formulas worked by hand on small tensors.
#include "models/llama/llama_ops.h"

#include <gtest/gtest.h>

#include <cmath>

namespace qtune {
namespace {

// Float32 ops on values of order 1: a few ulps of accumulated rounding.
constexpr double kTol = 1e-5;

void expect_close(const at::Tensor& got, const std::vector<double>& want) {
  const at::Tensor g = got.to(at::kDouble).flatten().contiguous();
  ASSERT_EQ(g.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(g[i].item<double>(), want[i], kTol) << "element " << i;
}

TEST(LlamaOps, RmsNormByHand) {
  // mean(3^2, 4^2) = 12.5; 1/sqrt(12.5) = 0.2828427; weight [1, 2].
  const at::Tensor x = at::tensor({3.f, 4.f}).view({1, 2});
  const at::Tensor w = at::tensor({1.f, 2.f});
  expect_close(rms_norm(x, w, 0.0), {3 * 0.28284271, 2 * 4 * 0.28284271});
  // eps enters under the root: 1/sqrt(12.5 + 0.5) for eps 0.5.
  expect_close(rms_norm(x, w, 0.5), {3 / std::sqrt(13.0), 8 / std::sqrt(13.0)});
}

TEST(LlamaOps, RopeRotatesHalfPairsAtKnownPositions) {
  // head_dim 4, theta 10000: inv_freq = [1, 0.01]; the pairs are (x0, x2) and (x1, x3).
  const at::Tensor inv = rope_inv_freq(4, 10000.0, {});
  expect_close(inv, {1.0, 0.01});
  const RopeTables rope = rope_tables(inv, 3);
  const at::Tensor x = at::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 1, 1, 4});
  expect_close(apply_rope(x, rope, 0), {1, 2, 3, 4});  // position 0: no rotation
  for (int p : {1, 2}) {
    const double c0 = std::cos(p * 1.0), s0 = std::sin(p * 1.0);
    const double c1 = std::cos(p * 0.01), s1 = std::sin(p * 0.01);
    expect_close(apply_rope(x, rope, p),
                 {1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1});
  }
}

TEST(LlamaOps, RopeScoresDependOnlyOnRelativePosition) {
  at::manual_seed(3);
  const at::Tensor q = at::randn({1, 1, 1, 8}), k = at::randn({1, 1, 1, 8});
  const RopeTables rope = rope_tables(rope_inv_freq(8, 100.0, {}), 20);
  auto score = [&](int pq, int pk) {
    return (apply_rope(q, rope, pq) * apply_rope(k, rope, pk)).sum().item<double>();
  };
  EXPECT_NEAR(score(5, 2), score(15, 12), 1e-4);
  EXPECT_GT(std::abs(score(5, 2) - score(5, 4)), 1e-3) << "rotation had no effect";
}

TEST(LlamaOps, Llama3FrequencyScaling) {
  // head_dim 6, theta 10000: inv = [1, 10000^(-1/3), 10000^(-2/3)], wavelengths 2pi/inv =
  // [6.28, 135.4, 2916]. With old context 1000, low/high factors 1/8: low wavelength 1000,
  // high 125 -> the first is kept, the last divided by the factor, the middle blended.
  RopeScaling s;
  s.type = "llama3";
  s.factor = 4;
  s.low_freq_factor = 1;
  s.high_freq_factor = 8;
  s.original_max_position_embeddings = 1000;
  const double f1 = std::pow(10000.0, -1.0 / 3), f2 = std::pow(10000.0, -2.0 / 3);
  const double smooth = (1000.0 / (2 * M_PI / f1) - 1) / (8 - 1);
  ASSERT_GT(smooth, 0);
  ASSERT_LT(smooth, 1);
  const at::Tensor got = rope_inv_freq(6, 10000.0, s);
  EXPECT_NEAR(got[0].item<double>(), 1.0, 1e-7);
  EXPECT_NEAR(got[1].item<double>(), (1 - smooth) * f1 / 4 + smooth * f1, 1e-7);
  EXPECT_NEAR(got[2].item<double>(), f2 / 4, 1e-9);
}

TEST(LlamaOps, CausalAttentionByHand) {
  // Zero queries give uniform weights over the visible keys: running means of v.
  const at::Tensor zero_q = at::zeros({1, 1, 3, 1});
  const at::Tensor k = at::tensor({5.f, -1.f, 2.f}).view({1, 1, 3, 1});
  const at::Tensor v = at::tensor({1.f, 2.f, 6.f}).view({1, 1, 3, 1});
  expect_close(causal_attention(zero_q, k, v, 0), {1, 1.5, 3});
  // Two tokens, D = 1: the second query q = ln 3 against keys [0, 1] scores [0, ln 3],
  // weights [1/4, 3/4], so with v = [4, 8] it reads 1 + 6 = 7.
  const at::Tensor q2 = at::tensor({0.f, static_cast<float>(std::log(3.0))}).view({1, 1, 2, 1});
  const at::Tensor k2 = at::tensor({0.f, 1.f}).view({1, 1, 2, 1});
  const at::Tensor v2 = at::tensor({4.f, 8.f}).view({1, 1, 2, 1});
  expect_close(causal_attention(q2, k2, v2, 0), {4, 7});
  // With head_dim 4 the scores are divided by sqrt(4) = 2: q.k = 2 ln 3 -> ln 3 again.
  const float l3 = static_cast<float>(std::log(3.0));
  const at::Tensor q4 = at::tensor({0.f, 0.f, 0.f, 0.f, l3, l3, 0.f, 0.f}).view({1, 1, 2, 4});
  const at::Tensor k4 = at::tensor({0.f, 0.f, 0.f, 0.f, 1.f, 1.f, 0.f, 0.f}).view({1, 1, 2, 4});
  const at::Tensor v4 = at::tensor({4.f, 0.f, 0.f, 0.f, 8.f, 0.f, 0.f, 0.f}).view({1, 1, 2, 4});
  expect_close(causal_attention(q4, k4, v4, 0).select(3, 0), {4, 7});
}

TEST(LlamaOps, OffsetQueriesMatchTheLastRowsOfFullAttention) {
  at::manual_seed(5);
  const at::Tensor q = at::randn({2, 2, 5, 4}), k = at::randn({2, 2, 5, 4}),
                   v = at::randn({2, 2, 5, 4});
  const at::Tensor full = causal_attention(q, k, v, 0);
  const at::Tensor tail = causal_attention(q.slice(2, 3), k, v, 3);
  EXPECT_TRUE(at::allclose(tail, full.slice(2, 3), 1e-5, 1e-6));
  EXPECT_FALSE(at::allclose(full.slice(2, 0, 1), full.slice(2, 4, 5), 1e-3, 1e-3));
}

TEST(LlamaOps, GqaEqualsMhaWithRepeatedKvHeads) {
  at::manual_seed(11);
  const at::Tensor q = at::randn({2, 6, 4, 3});
  const at::Tensor k = at::randn({2, 2, 4, 3}), v = at::randn({2, 2, 4, 3});
  // HF's grouping: query head h reads kv head h / (6 / 2).
  const at::Tensor map = at::tensor({0, 0, 0, 1, 1, 1}, at::kLong);
  const at::Tensor mha = causal_attention(q, k.index_select(1, map), v.index_select(1, map), 0);
  const at::Tensor gqa = causal_attention(q, k, v, 0);
  EXPECT_TRUE(at::allclose(gqa, mha, 1e-6, 1e-6));
  EXPECT_GT(gqa.abs().sum().item<double>(), 0.1);
}

TEST(LlamaOps, SwigluByHand) {
  // silu(x) = x * sigmoid(x): silu(0) = 0, silu(1) = 0.7310586, silu(-2) = -0.2384058.
  expect_close(swiglu(at::tensor({0.f, 1.f, -2.f}), at::tensor({5.f, 2.f, 3.f})),
               {0, 2 * 0.7310586, 3 * -0.2384058});
}

TEST(LlamaOps, DecoderLayerHasGradientsForEveryInput) {
  // Training runs the same function under autograd.
  LlamaConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 16;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  at::manual_seed(2);
  const std::vector<std::pair<int64_t, int64_t>> shapes{{8, 8},  {4, 8},  {4, 8}, {8, 8},
                                                        {16, 8}, {16, 8}, {8, 16}};
  std::vector<at::Tensor> w;
  for (auto [o, i] : shapes) w.push_back(at::randn({o, i}).requires_grad_());
  const at::Tensor n1 = at::ones({8}).requires_grad_(), n2 = at::ones({8}).requires_grad_();
  const at::Tensor h = at::randn({1, 3, 8});
  const ProjFn lin = [&](int j, const at::Tensor& x) { return at::linear(x, w[j]); };
  const at::Tensor out =
      llama_decoder_layer(c, h, lin, n1, n2, rope_tables(rope_inv_freq(4, 1e4, {}), 3));
  out.pow(2).sum().backward();
  for (const auto& t : w) EXPECT_GT(t.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(n1.grad().abs().sum().item<double>(), 0);
}

}  // namespace
}  // namespace qtune
