// builtin:tiny-lm-micro end to end (trained once per build tree in seconds):
// loading, the HF-layout cache, task data, block view. The full tiny LM is
// trained only by the disabled test at the bottom (minutes):
//   build-*/tests/test_models --gtest_also_run_disabled_tests --gtest_filter='*FullTinyLm*'
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "models/builtin.h"
#include "models/llama/builtin_lm.h"
#include "models/llama/llama_model.h"
#include "models/text/bible_corpus.h"
#include "models/text/perplexity.h"
#include "models/text/tokenizer.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

constexpr const char* kMicro = "builtin:tiny-lm-micro";

std::filesystem::path cache_dir() { return QTUNE_TEST_CACHE_DIR; }

class TinyLmMicro : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelOptions o;
    o.cache_dir = cache_dir();
    model_ = load_model(kMicro, o).release();
  }
  static void TearDownTestSuite() { delete model_; }
  static Model* model_;
};
Model* TinyLmMicro::model_ = nullptr;

std::filesystem::path micro_dir() {
  for (const BuiltinInfo& b : list_builtin_models(cache_dir()))
    if (b.spec == kMicro) return b.path;
  return {};
}

TEST_F(TinyLmMicro, IsAnHfFolderListedWithItsPath) {
  const std::filesystem::path dir = micro_dir();
  EXPECT_EQ(dir, cache_dir() / "tiny-lm-micro");
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", kBuiltinLmTagFile})
    EXPECT_TRUE(std::filesystem::is_regular_file(dir / f)) << f;
  bool listed = false;
  for (const BuiltinInfo& b : list_builtin_models(cache_dir())) {
    if (b.spec != kMicro) continue;
    listed = true;
    EXPECT_TRUE(b.cached);
    EXPECT_EQ(b.seqlen, 64);
  }
  EXPECT_TRUE(listed);
  const auto* lm = dynamic_cast<const LlamaModel*>(model_);
  ASSERT_NE(lm, nullptr);
  EXPECT_EQ(lm->config().num_key_value_heads, 2);
  EXPECT_EQ(lm->config().vocab_size, load_tokenizer(dir)->vocab_size());
}

TEST_F(TinyLmMicro, LearnedSomethingAndReloadsThroughHfToTheSamePerplexity) {
  const TaskData data = load_task_data(kMicro, 0, 20, 0, cache_dir());
  ASSERT_EQ(data.evaluation.inputs.sizes(), (at::IntArrayRef{20, 64}));
  const EvalResult r = data.evaluate(*model_);
  EXPECT_EQ(r.metric, "perplexity");
  EXPECT_FALSE(r.higher_is_better);
  EXPECT_GT(r.samples, 20 * 63);
  const int64_t vocab = dynamic_cast<const LlamaModel&>(*model_).config().vocab_size;
  // A model with uniform logits scores exactly the vocabulary size.
  EXPECT_LT(r.value, 0.5 * vocab) << "60 steps should beat uniform clearly";

  const std::string hf_spec = "hf:" + micro_dir().string();
  const ModelPtr again = load_model(hf_spec);
  EXPECT_EQ(again->spec(), hf_spec);
  EXPECT_EQ(data.evaluate(*again).value, r.value);
  // A plain folder holding config.json is a spec too.
  EXPECT_EQ(data.evaluate(*load_model(micro_dir().string())).value, r.value);
  // The hf spec's own task data (its tokenizer, the same splits) agrees.
  EXPECT_EQ(load_task_data(hf_spec, 0, 20, 0).evaluate(*again).value, r.value);
}

TEST_F(TinyLmMicro, BlockChainEqualsForward) {
  const TaskData data = load_task_data(kMicro, 3, 1, 5, cache_dir());
  const at::Tensor ids = data.calibration.inputs;
  ASSERT_EQ(ids.sizes(), (at::IntArrayRef{3, 64}));
  const auto& lm = dynamic_cast<const LlamaModel&>(*model_);
  at::Tensor h = lm.block_input(ids);
  for (int64_t b = 0; b < lm.num_blocks(); ++b) h = lm.run_block(b, h);
  EXPECT_TRUE(at::equal(lm.head(h), lm.forward(ids)));
}

TEST_F(TinyLmMicro, CalibrationWindowsFollowTheSeed) {
  const at::Tensor a = load_task_data(kMicro, 4, 1, 11, cache_dir()).calibration.inputs;
  const at::Tensor b = load_task_data(kMicro, 4, 1, 11, cache_dir()).calibration.inputs;
  const at::Tensor c = load_task_data(kMicro, 4, 1, 12, cache_dir()).calibration.inputs;
  EXPECT_EQ(a.scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
  EXPECT_GE(a.min().item<int64_t>(), 0);
}

TEST_F(TinyLmMicro, BuildModelFromSavedTensors) {
  std::map<std::string, at::Tensor> tensors = model_->extra_tensors();
  for (const LayerSlot* s : model_->layers()) tensors[s->name() + ".weight"] = s->weight();
  const ModelPtr rebuilt = build_model(kMicro, tensors, cache_dir());
  const at::Tensor ids = at::arange(10, at::kLong).view({1, 10});
  EXPECT_TRUE(at::equal(rebuilt->forward(ids), model_->forward(ids)));
  tensors.erase("model.norm.weight");
  testing::expect_error([&] { build_model(kMicro, tensors, cache_dir()); },
                        "tensor 'model.norm.weight' is missing");
}

TEST(TinyLm, StaleFolderIsRetrainedAndBadSpecsAreErrors) {
  testing::TempDir dir;
  ModelOptions o;
  o.cache_dir = dir.path();
  const ModelPtr first = load_model(kMicro, o);
  const auto tag = dir / "tiny-lm-micro" / kBuiltinLmTagFile;
  const std::string good = testing::read_bytes(tag);
  testing::write_bytes(tag, "tiny-lm-train/0 an older recipe\n");
  const ModelPtr second = load_model(kMicro, o);
  EXPECT_EQ(testing::read_bytes(tag), good);
  // Same recipe, seed and thread count: the same weights.
  const at::Tensor ids = at::arange(8, at::kLong).view({1, 8});
  EXPECT_TRUE(at::equal(first->forward(ids), second->forward(ids)));

  testing::expect_error([&] { load_model("hf:" + (dir / "nope").string()); },
                        "is not a folder holding config.json");
  testing::expect_error([] { load_model("builtin:tiny-llm"); },
                        "unknown model \"builtin:tiny-llm\"");
}

// Trains (or loads) the full builtin:tiny-lm in the user's cache and reports its
// held-out bits per byte; disabled: it takes minutes.
TEST(TinyLm, DISABLED_FullTinyLm) {
  ModelOptions o;
  o.progress = true;
  const auto start = std::chrono::steady_clock::now();
  const ModelPtr m = load_model("builtin:tiny-lm", o);
  const double train_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::filesystem::path dir;
  for (const BuiltinInfo& b : list_builtin_models(o.cache_dir))
    if (b.spec == "builtin:tiny-lm") dir = b.path;
  const TokenizerPtr tok = load_tokenizer(dir);
  PerplexityOptions po;
  po.context = 256;
  const PerplexityResult r = evaluate_perplexity(*m, tok->encode(bible_splits().heldout), *tok, po);
  std::printf(
      "tiny-lm: load/train %.0f s, held-out perplexity %.3f, bits/byte %.4f over %lld "
      "tokens (%lld bytes)\n",
      train_s, r.perplexity, r.bits_per_byte, static_cast<long long>(r.tokens),
      static_cast<long long>(r.bytes));
  EXPECT_LE(r.bits_per_byte, 2.3);
}

}  // namespace
}  // namespace qtune
