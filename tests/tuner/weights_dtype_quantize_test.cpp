// Quantizing a language model whose bf16 checkpoint is held in bf16 gives the
// bits of the same checkpoint held in fp32: every algorithm reads the weight
// widened (exactly), AWQ's scaled weights stay fp32, and the unquantized
// lm_head computes in fp32. The saved model reloads to the same logits.
#include <gtest/gtest.h>

#include "models/llama/hf_checkpoint.h"
#include "models/llama/llama_init.h"
#include "storage/artifact.h"
#include "tests/support/small_llama.h"
#include "tests/support/temp_dir.h"
#include "tuner/trial_runner.h"

namespace qtune {
namespace {

using testing::TempDir;

LlamaConfig config() {
  LlamaConfig c = testing::small_llama_config();
  c.tie_word_embeddings = false;
  c.torch_dtype = "bfloat16";
  return c;
}

at::Tensor token_rows(int64_t rows, int64_t cols, uint64_t seed) {
  return at::tensor(testing::small_llama_tokens(rows * cols, seed), at::kLong).view({rows, cols});
}

TEST(WeightsDtypeQuantize, ABf16HeldModelQuantizesToTheFp32HeldModelsBits) {
  TempDir dir;
  const LlamaConfig c = config();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  save_hf_checkpoint(dir.path(), c, init_llama_tensors(c, 0.05, gen, at::kBFloat16));
  const auto wide = load_hf_model(dir.path(), "hf:" + dir.path().string(), at::kFloat);
  const auto held = load_hf_model(dir.path(), "hf:" + dir.path().string(), at::kBFloat16);
  CalibrationData calibration;
  for (uint64_t b = 0; b < 2; ++b) calibration.batches.push_back(token_rows(4, 32, 20 + b));
  const at::Tensor probe = token_rows(2, 40, 9);
  for (const char* text :
       {R"({"algorithm": "rtn", "params": {"bits": 4, "group_size": 32}})",
        R"({"algorithm": "gptq", "params": {"bits": 4, "group_size": 32, "act_order": true}})",
        R"({"algorithm": "awq", "params": {"bits": 3, "group_size": 64}})",
        R"({"algorithm": "hqq", "params": {"bits": 4, "group_size": 64}})"}) {
    const QuantConfig qc = QuantConfig::from_json(Json::parse(text), "test");
    std::vector<LayerReport> wide_reports, held_reports;
    const ModelPtr qw = quantize_clone(*wide, qc, calibration, &wide_reports);
    const ModelPtr qh = quantize_clone(*held, qc, calibration, &held_reports);
    const at::Tensor logits = qh->forward(probe);
    EXPECT_TRUE(at::equal(logits, qw->forward(probe))) << qc.algorithm;
    ASSERT_EQ(held_reports.size(), wide_reports.size());
    for (size_t i = 0; i < held_reports.size(); ++i)
      EXPECT_EQ(held_reports[i].params, wide_reports[i].params) << qc.algorithm;
    // The quantized layers no longer need the bf16 weights; lm_head still
    // holds its own in bf16, as the saved model stores it.
    EXPECT_EQ(qh->layer("lm_head").resident_weight().scalar_type(), at::kBFloat16);
    EXPECT_LT(model_storage_bytes(*qh), model_storage_bytes(*qw)) << qc.algorithm;

    TempDir saved;
    save_model(*qh, saved.path(), qc, held_reports);
    EXPECT_TRUE(at::equal(load_saved_model(saved.path())->forward(probe), logits)) << qc.algorithm;
  }
}

}  // namespace
}  // namespace qtune
