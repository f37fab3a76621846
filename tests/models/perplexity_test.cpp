// Sliding-window perplexity against values worked by hand and properties that
// must hold (uniform logits give the vocabulary size; a model that ignores
// context gives the same value for any stride).
#include "models/text/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/expect_error.h"

namespace qtune {
namespace {

using testing::expect_error;

// Logits for position t depend only on token t: table[token] (a bigram model,
// blind to any earlier context). Records the windows it was given.
class BigramModel : public Model {
 public:
  explicit BigramModel(at::Tensor table) : table_(std::move(table)) {}
  std::string spec() const override { return "test:bigram"; }
  at::Tensor forward(const at::Tensor& ids) const override {
    inputs.push_back(ids.clone());
    return table_.index_select(0, ids.flatten()).view({ids.size(0), ids.size(1), -1});
  }
  std::vector<LayerSlot*> layers() override { return {}; }
  std::unique_ptr<Model> clone() const override { return std::make_unique<BigramModel>(*this); }
  mutable std::vector<at::Tensor> inputs;

 private:
  at::Tensor table_;
};

// Same logits for every position and every context.
BigramModel uniform(int64_t vocab) { return BigramModel(at::zeros({vocab, vocab})); }

std::vector<int64_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  at::manual_seed(seed);
  auto t = at::randint(vocab, {n}, at::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
}

int64_t one_byte(int64_t) { return 1; }

TEST(Perplexity, UniformLogitsGiveTheVocabularySize) {
  for (int64_t vocab : {2, 7, 50}) {
    auto m = uniform(vocab);
    PerplexityOptions o;
    o.context = 16;
    o.stride = 5;
    auto r = evaluate_perplexity(m, random_tokens(203, vocab, 1), one_byte, o);
    // log_softmax of equal logits is -log V in float; 1e-6 relative covers float rounding.
    EXPECT_NEAR(r.perplexity, static_cast<double>(vocab), vocab * 1e-6);
    EXPECT_EQ(r.tokens, 202);
    EXPECT_NEAR(r.bits_per_byte, std::log2(static_cast<double>(vocab)), 1e-6);
  }
}

TEST(Perplexity, TwoTokensWorkedByHand) {
  // Vocabulary 3; after token 0 the logits are (0, ln 2, 0): p(1 | 0) = 2 / 4.
  auto table = at::zeros({3, 3});
  table[0][1] = std::log(2.0);
  BigramModel m(table);
  auto bytes = [](int64_t id) -> int64_t { return id == 1 ? 3 : 1; };
  auto r = evaluate_perplexity(m, {0, 1}, bytes, PerplexityOptions{});
  EXPECT_EQ(r.tokens, 1);
  EXPECT_EQ(r.windows, 1);
  EXPECT_EQ(r.bytes, 3);  // only the scored token's bytes count
  EXPECT_NEAR(r.mean_nll, std::log(2.0), 1e-6);
  EXPECT_NEAR(r.perplexity, 2.0, 1e-6);
  EXPECT_NEAR(r.bits_per_byte, 1.0 / 3.0, 1e-6);  // ln 2 nats = 1 bit over 3 bytes
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_TRUE(at::equal(m.inputs[0], at::tensor({int64_t{0}}, at::kLong).view({1, 1})));
}

TEST(Perplexity, WindowsScoreEachTokenOnce) {
  auto m = uniform(4);
  PerplexityOptions o;
  o.context = 4;
  o.stride = 2;
  o.batch = 1;
  std::vector<int64_t> tokens = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1};  // n = 10
  auto r = evaluate_perplexity(m, tokens, one_byte, o);
  // Inputs start at 0, 2, 4, 6 and stop before the last token: [0,4) scores
  // 1..4, [2,6) 5..6, [4,8) 7..8, [6,9) 9.
  ASSERT_EQ(m.inputs.size(), 4u);
  const std::vector<std::pair<int64_t, int64_t>> want = {{0, 4}, {2, 4}, {4, 4}, {6, 3}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(m.inputs[i].size(1), want[i].second) << "window " << i;
    EXPECT_EQ(m.inputs[i][0][0].item<int64_t>(), tokens[want[i].first]) << "window " << i;
  }
  EXPECT_EQ(r.tokens, 9);
  EXPECT_EQ(r.windows, 4);
}

TEST(Perplexity, StrideDoesNotMatterToAContextBlindModel) {
  at::manual_seed(3);
  BigramModel m(at::randn({11, 11}) * 2);
  const auto tokens = random_tokens(500, 11, 4);
  PerplexityOptions o;
  o.context = 32;
  o.stride = 32;
  auto full = evaluate_perplexity(m, tokens, one_byte, o);
  for (int64_t stride : {1, 7, 31}) {
    o.stride = stride;
    auto r = evaluate_perplexity(m, tokens, one_byte, o);
    EXPECT_EQ(r.tokens, full.tokens);
    // Same per-token NLLs summed in another grouping: float log-probs, double sums.
    EXPECT_NEAR(r.perplexity, full.perplexity, full.perplexity * 1e-9) << "stride " << stride;
  }
  EXPECT_GT(full.perplexity, 1.5);  // not a vacuous comparison of trivial values
}

TEST(Perplexity, BatchingDoesNotChangeTheResult) {
  at::manual_seed(5);
  BigramModel m(at::randn({9, 9}));
  const auto tokens = random_tokens(301, 9, 6);
  PerplexityOptions o;
  o.context = 20;
  o.stride = 8;
  o.batch = 1;
  auto one = evaluate_perplexity(m, tokens, one_byte, o);
  o.batch = 5;
  m.inputs.clear();
  auto five = evaluate_perplexity(m, tokens, one_byte, o);
  EXPECT_NEAR(one.perplexity, five.perplexity, one.perplexity * 1e-9);
  EXPECT_LT(m.inputs.size(), static_cast<size_t>(one.windows));
  EXPECT_EQ(one.windows, five.windows);
}

TEST(Perplexity, ResultAsEvalResultAndJson) {
  auto m = uniform(5);
  auto r = evaluate_perplexity(m, random_tokens(40, 5, 1), one_byte, PerplexityOptions{});
  auto e = r.eval_result();
  EXPECT_EQ(e.metric, "perplexity");
  EXPECT_FALSE(e.higher_is_better);
  EXPECT_EQ(e.samples, 39);
  EXPECT_DOUBLE_EQ(e.value, r.perplexity);
  auto j = r.to_json();
  EXPECT_DOUBLE_EQ(j["perplexity"].get<double>(), r.perplexity);
  EXPECT_DOUBLE_EQ(j["bits_per_byte"].get<double>(), r.bits_per_byte);
  EXPECT_EQ(j["tokens"].get<int64_t>(), 39);

  PerplexityResult seen;
  auto fn = perplexity_evaluator(random_tokens(40, 5, 1), one_byte, PerplexityOptions{},
                                 [&](const PerplexityResult& x) { seen = x; });
  EXPECT_DOUBLE_EQ(fn(m).value, r.perplexity);
  EXPECT_DOUBLE_EQ(seen.bits_per_byte, r.bits_per_byte);
}

TEST(Perplexity, WindowsOfACalibrationSetScoreTheirOwnRowsOnly) {
  // Each row alone through the sliding-window evaluator (one window of T - 1
  // inputs scores all T - 1 targets) is the reference: the pooled NLL over
  // rows must be the token-weighted mean of the rows' NLLs.
  at::manual_seed(5);
  BigramModel m(at::randn({9, 9}) * 2);
  const auto ids = at::tensor(random_tokens(5 * 12, 9, 6), at::kLong).view({5, 12});
  double nll = 0;
  for (int64_t r = 0; r < 5; ++r) {
    const at::Tensor row = ids[r].contiguous();
    PerplexityOptions o;
    o.context = 11;
    nll += evaluate_perplexity(
               m, std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + 12),
               one_byte, o)
               .mean_nll *
           11;
  }
  m.inputs.clear();
  const auto w = evaluate_window_perplexity(m, ids, 2);
  EXPECT_EQ(w.tokens, 5 * 11);
  EXPECT_EQ(w.windows, 5);
  EXPECT_NEAR(w.mean_nll, nll / 55, 1e-12);
  EXPECT_NEAR(w.perplexity, std::exp(nll / 55), 1e-9);
  EXPECT_TRUE(std::isnan(w.bits_per_byte)) << "windows carry no token bytes";
  ASSERT_EQ(m.inputs.size(), 3u) << "batches of 2, 2, 1 rows";
  EXPECT_TRUE(at::equal(m.inputs[2], ids.narrow(0, 4, 1)));
  // Uniform logits: the vocabulary size, whatever the rows.
  auto u = uniform(9);
  EXPECT_NEAR(evaluate_window_perplexity(u, ids).perplexity, 9.0, 9e-6);
  expect_error([&] { evaluate_window_perplexity(m, ids.narrow(1, 0, 1)); },
               "window perplexity: expected int64 token windows [N >= 1, T >= 2], got [5, 1] Long");
}

TEST(Perplexity, BadInputs) {
  auto m = uniform(3);
  PerplexityOptions o;
  expect_error([&] { evaluate_perplexity(m, {1}, one_byte, o); }, "need at least 2 tokens");
  o.context = 4;
  o.stride = 5;
  expect_error(
      [&] {
        evaluate_perplexity(m, {1, 2, 0}, one_byte, o);
      },
      "stride must be in [1, context=4], got 5");
  o.stride = 0;
  o.batch = 0;
  expect_error([&] { evaluate_perplexity(m, {1, 2, 0}, one_byte, o); }, "batch must be >= 1");
  // A classifier-like model returning [B, V] is named as such.
  class Flat : public BigramModel {
   public:
    Flat() : BigramModel(at::zeros({3, 3})) {}
    at::Tensor forward(const at::Tensor& ids) const override { return at::zeros({ids.size(0), 3}); }
  } flat;
  expect_error(
      [&] {
        evaluate_perplexity(flat, {1, 2, 0}, one_byte, PerplexityOptions{});
      },
      "logits [B, T, V]");
}

}  // namespace
}  // namespace qtune
