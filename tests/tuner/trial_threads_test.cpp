// A trial's numbers do not depend on its thread count: a random Llama
// quantized (RTN, HQQ: layers as work units; GPTQ: the layers of a block) and
// scored (perplexity windows, calibration windows: batches as work units) on
// 1, 2 and 3 threads gives the same bits, and the same as one compute thread
// with no work units at all.
#include <gtest/gtest.h>

#include "models/compute_threads.h"
#include "models/llama/llama_init.h"
#include "models/llama/llama_model.h"
#include "models/text/perplexity.h"
#include "models/work_units.h"
#include "tests/support/small_llama.h"
#include "tuner/trial_runner.h"

namespace qtune {
namespace {

LlamaConfig config() { return testing::small_llama_config(); }

std::vector<int64_t> tokens(int64_t n, uint64_t seed) {
  return testing::small_llama_tokens(n, seed);
}

struct Numbers {
  double perplexity = 0, calibration = 0;
  at::Tensor logits;  ///< of the quantized model on fixed ids
  std::vector<Json> layer_params;
};

Numbers trial(const LlamaModel& base, const QuantConfig& qc, int threads) {
  WorkUnitThreadsScope units(threads);
  std::vector<LayerReport> reports;
  CalibrationData calibration;
  for (uint64_t b = 0; b < 3; ++b)
    calibration.batches.push_back(at::tensor(tokens(2 * 32, 20 + b), at::kLong).view({2, 32}));
  const ModelPtr q = quantize_clone(base, qc, calibration, &reports);
  PerplexityOptions po;
  po.context = 64;
  po.batch = 3;  // 1500 tokens: 24 windows, 8 units
  const EvalFn ppl = perplexity_evaluator(
      tokens(1500, 7), [](int64_t) { return 1; }, po);
  const at::Tensor windows = at::tensor(tokens(10 * 48, 8), at::kLong).view({10, 48});
  Numbers n;
  n.perplexity = evaluate_in_units(ppl, *q).value;
  n.calibration =
      evaluate_in_units(
          [&](const Model& m) { return evaluate_window_perplexity(m, windows, 4).eval_result(); },
          *q)
          .value;
  {
    ComputeThreadsScope one(1);
    at::NoGradGuard no_grad;
    n.logits = q->forward(at::tensor(tokens(2 * 40, 9), at::kLong).view({2, 40}));
  }
  for (const auto& r : reports) n.layer_params.push_back(r.params);
  return n;
}

TEST(TrialThreads, QuantizingAndScoringGiveTheSameBitsOnAnyThreadCount) {
  const LlamaConfig c = config();
  at::Generator gen = at::detail::createCPUGenerator(11);
  const LlamaModel base("test:llama", c, init_llama_tensors(c, 0.05, gen));
  for (const char* text : {R"({"algorithm": "rtn", "params": {"bits": 4, "group_size": 32}})",
                           R"({"algorithm": "hqq", "params": {"bits": 3, "group_size": 64}})",
                           R"({"algorithm": "gptq", "params": {"bits": 4, "group_size": 32}})"}) {
    const QuantConfig qc = QuantConfig::from_json(Json::parse(text), "test");
    const Numbers one = trial(base, qc, 1);
    EXPECT_GT(one.perplexity, 1.0);
    for (int threads : {2, 3}) {
      const Numbers many = trial(base, qc, threads);
      EXPECT_EQ(many.perplexity, one.perplexity) << qc.algorithm << ", " << threads << " threads";
      EXPECT_EQ(many.calibration, one.calibration) << qc.algorithm << ", " << threads << " threads";
      EXPECT_TRUE(at::equal(many.logits, one.logits)) << qc.algorithm << ", " << threads;
      EXPECT_EQ(many.layer_params, one.layer_params);
    }
  }
}

}  // namespace
}  // namespace qtune
