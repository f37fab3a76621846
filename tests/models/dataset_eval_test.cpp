#include <gtest/gtest.h>

#include "common/error.h"
#include "models/builtin.h"
#include "models/dataset.h"
#include "models/evaluator.h"

namespace qtune {
namespace {

Dataset numbered(int64_t n) {
  return {at::arange(n, at::kFloat).view({n, 1}), at::arange(n, at::kLong)};
}

TEST(Dataset, SliceTakesRowsAndClampsAtTheEnd) {
  const Dataset d = numbered(10);
  const Dataset s = d.slice(3, 4);
  ASSERT_EQ(s.size(), 4);
  EXPECT_TRUE(s.labels.equal(at::tensor({3, 4, 5, 6}, at::kLong)));
  EXPECT_TRUE(s.inputs.view({4}).equal(at::tensor({3.f, 4.f, 5.f, 6.f})));
  EXPECT_EQ(d.slice(8, 5).size(), 2);
  EXPECT_EQ(d.slice(10, 5).size(), 0);
  EXPECT_THROW(d.slice(11, 1), Error);
  EXPECT_THROW(d.slice(-1, 1), Error);
  EXPECT_THROW(d.slice(0, -1), Error);
}

TEST(Dataset, InputBatchesCoverEveryRowOnceInOrder) {
  const Dataset d = numbered(10);
  const auto batches = d.input_batches(4);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(0), 4);
  EXPECT_EQ(batches[1].size(0), 4);
  EXPECT_EQ(batches[2].size(0), 2);
  EXPECT_TRUE(at::cat(batches).equal(d.inputs));
  EXPECT_EQ(d.input_batches(10).size(), 1u);
  EXPECT_EQ(d.input_batches(100).size(), 1u);
  EXPECT_THROW(d.input_batches(0), Error);
}

// A model whose logits are its input rows, so the expected accuracy is
// worked out by hand from the table below.
class LogitsModel final : public Model {
 public:
  std::string spec() const override { return "test:logits"; }
  at::Tensor forward(const at::Tensor& x) const override {
    ++calls;
    return x;
  }
  std::vector<LayerSlot*> layers() override { return {}; }
  std::unique_ptr<Model> clone() const override { return std::make_unique<LogitsModel>(); }
  mutable int calls = 0;
};

TEST(EvaluateTop1, CountsArgmaxMatchesAcrossBatches) {
  // row: logits              argmax  label  correct
  //  0   [0.1, 0.9, 0.0]     1       1      yes
  //  1   [2.0, 1.0, 3.0]     2       0      no
  //  2   [5.0, 5.0, 1.0]     0 (tie: first index)  0  yes
  //  3   [-1, -2, -0.5]      2       2      yes
  //  4   [0.0, 0.0, 0.1]     2       1      no
  Dataset d;
  d.inputs = at::tensor({0.1f, 0.9f, 0.0f, 2.0f, 1.0f, 3.0f, 5.0f, 5.0f, 1.0f, -1.0f, -2.0f, -0.5f,
                         0.0f, 0.0f, 0.1f})
                 .view({5, 3});
  d.labels = at::tensor({1, 0, 0, 2, 1}, at::kLong);
  LogitsModel m;
  const EvalResult r = evaluate_top1(m, d, /*batch=*/2);
  EXPECT_EQ(m.calls, 3);
  EXPECT_EQ(r.metric, "accuracy");
  EXPECT_TRUE(r.higher_is_better);
  EXPECT_EQ(r.samples, 5);
  EXPECT_DOUBLE_EQ(r.value, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(evaluate_top1(m, d, 500).value, 3.0 / 5.0);
}

TEST(EvaluateTop1, RejectsEmptyDataAndBadBatch) {
  LogitsModel m;
  Dataset empty{at::empty({0, 3}), at::empty({0}, at::kLong)};
  EXPECT_THROW(evaluate_top1(m, empty), Error);
  EXPECT_THROW(evaluate_top1(m, numbered(3), 0), Error);
}

TEST(EvaluateTop1, RejectsLogitsOfTheWrongShape) {
  LogitsModel m;
  Dataset d{at::zeros({4}), at::zeros({4}, at::kLong)};  // forward returns 1-D "logits"
  EXPECT_THROW(evaluate_top1(m, d), Error);
}

TEST(CalibrationEvaluator, ScoresLabelledImagesByTop1AndTokenWindowsByPerplexity) {
  LogitsModel m;
  TaskData classifier;
  classifier.calibration.inputs = at::tensor({0.f, 1.f, 1.f, 0.f, 3.f, 2.f}).view({3, 2});
  classifier.calibration.labels = at::tensor({1, 1, 0}, at::kLong);
  const EvalFn top1 = calibration_evaluator(classifier);
  ASSERT_TRUE(top1);
  EXPECT_EQ(top1(m).metric, "accuracy");
  EXPECT_DOUBLE_EQ(top1(m).value, 2.0 / 3.0) << "rows 0 and 2 are right, row 1 is not";

  // Token windows, no labels: perplexity over the windows' targets; uniform
  // logits over 5 tokens give 5 whatever the tokens.
  class Uniform final : public Model {
   public:
    std::string spec() const override { return "test:uniform"; }
    at::Tensor forward(const at::Tensor& ids) const override {
      return at::zeros({ids.size(0), ids.size(1), 5});
    }
    std::vector<LayerSlot*> layers() override { return {}; }
    std::unique_ptr<Model> clone() const override { return std::make_unique<Uniform>(); }
  };
  TaskData lm;
  lm.calibration.inputs = at::tensor({0, 1, 2, 3, 4, 4, 3, 2}, at::kLong).view({2, 4});
  lm.calibration.labels = at::empty({0}, at::kLong);
  const EvalFn ppl = calibration_evaluator(lm);
  ASSERT_TRUE(ppl);
  const EvalResult r = ppl(Uniform());
  EXPECT_EQ(r.metric, "perplexity");
  EXPECT_FALSE(r.higher_is_better);
  EXPECT_EQ(r.samples, 6) << "3 targets in each of 2 windows";
  EXPECT_NEAR(r.value, 5.0, 5e-6) << "uniform logits over 5 tokens";

  TaskData none;
  none.calibration.inputs = at::empty({0, 4}, at::kLong);
  none.calibration.labels = at::empty({0}, at::kLong);
  EXPECT_FALSE(calibration_evaluator(none)) << "nothing to score";
}

}  // namespace
}  // namespace qtune
