// SmoothQuant: lower int8 error than plain static on outlier channels, the
// fp32 function kept by folding, folding=true semantics, auto alpha.
#include <gtest/gtest.h>

#include "backends/int8.h"
#include "quantizers/quantizer.h"
#include "support/expect_error.h"

namespace qtune {
namespace {

using qtune::testing::expect_error;

/// fc1 -> relu -> fc2; fc1 is fed by the input (an inserted multiplier if
/// smoothed), fc2 by fc1 (which absorbs fc2's scales).
class TwoLinear : public Model {
 public:
  explicit TwoLinear(uint64_t seed) : TwoLinear(make(seed)) {}
  std::string spec() const override { return "test:two-linear"; }
  at::Tensor forward(const at::Tensor& x) const override { return fc2_(at::relu(fc1_(x))); }
  std::vector<LayerSlot*> layers() override { return {&fc1_, &fc2_}; }
  std::vector<InputScaleGroup> input_scale_groups(int64_t) override {
    return {{"", {"fc1"}}, {"fc1", {"fc2"}}};
  }
  std::unique_ptr<Model> clone() const override { return std::make_unique<TwoLinear>(*this); }

 private:
  struct Slots {
    LayerSlot fc1, fc2;
  };
  static Slots make(uint64_t seed) {
    at::manual_seed(seed);
    return {LayerSlot("fc1", LayerKind::kLinear, at::randn({48, 64}) * 0.1, at::randn({48})),
            LayerSlot("fc2", LayerKind::kLinear, at::randn({8, 48}) * 0.1, at::randn({8}))};
  }
  explicit TwoLinear(Slots s) : fc1_(s.fc1), fc2_(s.fc2) {}
  LayerSlot fc1_, fc2_;
};

/// Inputs whose channels 5 and 40 are 50x larger than the rest (LLM-style outliers).
at::Tensor outlier_inputs(uint64_t seed, int64_t rows) {
  at::manual_seed(seed);
  at::Tensor x = at::randn({rows, 64});
  x.select(1, 5).mul_(50);
  x.select(1, 40).mul_(-50);
  return x;
}

CalibrationData calib() {
  CalibrationData c;
  for (int i = 0; i < 4; ++i) c.batches.push_back(outlier_inputs(20 + i, 64));
  return c;
}

QuantConfig config(const std::string& algo, Json params = Json::object()) {
  QuantConfig c;
  c.algorithm = algo;
  c.params = std::move(params);
  c.backend = "eager";
  return c;
}

/// Squared error of fc1's output (the outlier-fed Linear) against fp32.
double fc1_error(const std::string& algo, Json params, const at::Tensor& x,
                 std::vector<LayerReport>* reports = nullptr) {
  TwoLinear fp(1), q(1);
  QuantConfig c = config(algo, std::move(params));
  c.fp32_layers = {"fc2"};
  auto r = quantize(q, c, calib());
  if (reports) *reports = r;
  const at::Tensor want = fp.layer("fc1")(x), got = q.layer("fc1")(x);
  return (got - want).pow(2).sum().item<double>();
}

TEST(SmoothQuant, LowersInt8ErrorOnOutlierChannels) {
  const at::Tensor held_out = outlier_inputs(99, 256);
  const double plain = fc1_error("static", Json::object(), held_out);
  const double smooth = fc1_error("smoothquant", Json::object(), held_out);
  ASSERT_GT(plain, 0);
  // Outliers set the u8 step for every channel; moving sqrt of them into the
  // weights shrinks the error by far more than half.
  EXPECT_LT(smooth, 0.5 * plain) << "static " << plain << " smoothquant " << smooth;
}

TEST(SmoothQuant, AutoAlphaIsNoWorseThanFixedOnCalibration) {
  const at::Tensor x = at::cat(calib().batches, 0);
  std::vector<LayerReport> r;
  const double fixed = fc1_error("smoothquant", Json{{"alpha", 0.5}}, x);
  const double searched = fc1_error("smoothquant", Json{{"auto_alpha", true}}, x, &r);
  // The search scores this very error (fake quant vs the kernel's exact integer
  // sums differ by float rounding only) over a grid that contains 0.5.
  EXPECT_LE(searched, fixed * 1.001) << "fixed " << fixed << " searched " << searched;
  ASSERT_TRUE(r[0].params.contains("smoothquant_alpha"));
  const double a = r[0].params["smoothquant_alpha"].get<double>();
  EXPECT_GE(a, 0.0);
  EXPECT_LE(a, 1.0);
}

TEST(SmoothQuant, FoldingKeepsTheFp32Function) {
  TwoLinear fp(2), q(2);
  quantize(q, config("smoothquant", Json{{"alpha", 0.7}}), calib());
  // Run the smoothed weights (and the inserted multiplier) in fp32.
  for (LayerSlot* s : q.layers())
    s->set_kernel(make_fp32_kernel(s->kind(), s->weight(), s->bias(), s->geometry()));
  ASSERT_TRUE(q.layer("fc1").input_multiplier().defined()) << "fc1 has no producer";
  EXPECT_FALSE(q.layer("fc2").input_multiplier().defined()) << "fc1 absorbs fc2's scales";
  EXPECT_FALSE(at::allclose(q.layer("fc1").weight(), fp.layer("fc1").weight()));
  const at::Tensor x = outlier_inputs(5, 32);
  const at::Tensor want = fp.forward(x), got = q.forward(x);
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-4 * want.abs().max().item<double>());
}

TEST(SmoothQuant, FoldingTrueSkipsGroupsWithoutProducer) {
  TwoLinear fp(3), q(3);
  quantize(q, config("smoothquant", Json{{"folding", true}}), calib());
  EXPECT_FALSE(q.layer("fc1").input_multiplier().defined());
  // fc1's input columns are untouched; its rows absorbed fc2's scales.
  const at::Tensor ratio = q.layer("fc1").weight() / fp.layer("fc1").weight();
  EXPECT_TRUE(at::allclose(ratio, ratio.select(1, 0).unsqueeze(1).expand_as(ratio), 1e-4, 1e-5));
  EXPECT_FALSE(at::allclose(ratio, at::ones_like(ratio)));
}

TEST(SmoothQuant, SchemaAndBadParams) {
  const Json p = quantizer_by_name("smoothquant").schema().validate(Json::object(), "t");
  EXPECT_EQ(p["alpha"], 0.5);
  EXPECT_EQ(p["folding"], false);
  EXPECT_EQ(p["act_algo"], "minmax");
  expect_error(
      [] {
        QuantConfig::from_json({{"algorithm", "smoothquant"}, {"params", {{"alpha", 1.5}}}}, "c");
      },
      "c.params.alpha: expected a number in [0, 1], got 1.5");
  TwoLinear m(1);
  expect_error(
      [&] {
        quantize(
            m,
            config("smoothquant", {{"auto_alpha", true}, {"alpha_min", 0.8}, {"alpha_max", 0.2}}),
            calib());
      },
      "alpha_min (0.8) must be <= alpha_max (0.2)");
}

}  // namespace
}  // namespace qtune
