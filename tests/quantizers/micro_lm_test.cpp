// Every calibration or optimization method on a real decoder: the micro
// language model (Llama blocks with RMSNorm producers and GQA, so AWQ/TEQ
// insert a multiplier before o_proj), trained into the test cache on first
// use. At W3 g32 each method's next-token distributions stay closer to fp32's
// than RTN's do (mean KL divergence, as llama.cpp's perplexity tool reports)
// on the calibration windows, the data it was allowed to fit. KL rather than
// logit MSE: MSE over the whole vocabulary is dominated by tokens the model
// gives no weight to, which no method is asked to preserve.
#include <gtest/gtest.h>

#include <cstdio>

#include "models/builtin.h"
#include "outlier_mlp.h"
#include "quantizers/quantizer.h"

namespace qtune {
namespace {

using testing::quant_config;
using testing::quantized_copy;

/// Mean over positions of KL(p_ref || p_q) of the next-token distributions.
double mean_kl(const Model& ref, const Model& q, const at::Tensor& tokens) {
  at::NoGradGuard no_grad;
  const at::Tensor lp = at::log_softmax(ref.forward(tokens), -1);
  const at::Tensor lq = at::log_softmax(q.forward(tokens), -1);
  return (lp.exp() * (lp - lq)).sum(-1).mean().item<double>();
}

struct MethodCase {
  const char* algorithm;
  Json extra;             ///< params beyond bits/group_size
  const char* reference;  ///< the RTN scheme it is compared with
};

std::ostream& operator<<(std::ostream& os, const MethodCase& c) { return os << c.algorithm; }

class MicroLm : public ::testing::TestWithParam<MethodCase> {
 protected:
  static void SetUpTestSuite() {
    ModelOptions mo;
    mo.cache_dir = QTUNE_TEST_CACHE_DIR;
    fp_ = load_model(kSpec, mo).release();
    data_ = new TaskData(load_task_data(kSpec, 16, 8, 3, QTUNE_TEST_CACHE_DIR));
  }
  static void TearDownTestSuite() {
    delete fp_;
    delete data_;
  }
  static constexpr const char* kSpec = "builtin:tiny-lm-micro";
  static Model* fp_;
  static TaskData* data_;
};
Model* MicroLm::fp_ = nullptr;
TaskData* MicroLm::data_ = nullptr;

TEST_P(MicroLm, W3G32KlBelowRtn) {
  const MethodCase& c = GetParam();
  CalibrationData calib;
  calib.batches = data_->calibration.input_batches(4);
  const at::Tensor x = data_->calibration.inputs;
  Json rtn_params{{"bits", 3}, {"group_size", 32}, {"scheme", c.reference}};
  Json params{{"bits", 3}, {"group_size", 32}};
  for (const auto& [k, v] : c.extra.items()) params[k] = v;

  const double rtn =
      mean_kl(*fp_, *quantized_copy(*fp_, quant_config("rtn", rtn_params), calib), x);
  const ModelPtr m = quantized_copy(*fp_, quant_config(c.algorithm, params), calib);
  const double err = mean_kl(*fp_, *m, x);
  EXPECT_LT(err, rtn) << c.algorithm;
  std::printf("tiny-lm-micro W3g32 mean KL: rtn(%s) %.5g, %s %.5g; perplexity fp32 %.4g, %s %.4g\n",
              c.reference, rtn, c.algorithm, err, data_->evaluate(*fp_).value, c.algorithm,
              data_->evaluate(*m).value);
}

INSTANTIATE_TEST_SUITE_P(
    Methods, MicroLm,
    ::testing::Values(MethodCase{"gptq", Json::object(), "sym"},
                      MethodCase{"awq", Json::object(), "sym"},
                      MethodCase{"teq", Json{{"train_iters", 50}}, "sym"},
                      MethodCase{"autoround", Json{{"iters", 50}}, "sym"},
                      // HQQ is asymmetric by construction: compared with asym RTN.
                      MethodCase{"hqq", Json::object(), "asym"}),
    [](const ::testing::TestParamInfo<MethodCase>& i) { return std::string(i.param.algorithm); });

}  // namespace
}  // namespace qtune
