// QAT: with zero steps it is exactly static int8 / RTN (the conversion
// reference); training lowers the loss it trains on; bad data is reported.
#include <gtest/gtest.h>

#include "backends/int8.h"
#include "quantizers/quantizer.h"
#include "support/expect_error.h"
#include "tiny_model.h"

namespace qtune {
namespace {

using qtune::testing::expect_error;
using qtune::testing::TinyModel;

/// Labels: the fp32 model's own argmax (a teacher), so fine-tuning has a target it can reach.
CalibrationData labelled(TinyModel& teacher, int batches = 4) {
  CalibrationData c;
  for (int i = 0; i < batches; ++i) {
    at::Tensor x = TinyModel::input(200 + i);
    c.batches.push_back(x);
    c.labels.push_back(teacher.forward(x).argmax(1));
  }
  return c;
}

QuantConfig cfg(const std::string& algo, Json params) {
  QuantConfig c;
  c.algorithm = algo;
  c.params = std::move(params);
  c.backend = "eager";
  return c;
}

double loss_on(const Model& m, const CalibrationData& c) {
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < c.batches.size(); ++i) {
    const at::Tensor l = at::nll_loss(at::log_softmax(m.forward(c.batches[i]), 1), c.labels[i], {},
                                      at::Reduction::Sum);
    sum += l.item<double>();
    n += c.labels[i].size(0);
  }
  return sum / n;
}

TEST(Qat, ZeroStepsInt8IsStaticMinMax) {
  TinyModel teacher(1), a(1), b(1);
  const CalibrationData c = labelled(teacher);
  quantize(a, cfg("qat", {{"steps", 0}}), c);
  quantize(b, cfg("static", Json::object()), c);
  const at::Tensor x = TinyModel::input(9);
  EXPECT_TRUE(at::equal(a.forward(x), b.forward(x)));
  for (const char* n : {"conv", "fc1", "head.fc2"}) {
    const auto* k = dynamic_cast<const Int8Kernel*>(a.layer(n).kernel().get());
    ASSERT_NE(k, nullptr) << n;
    EXPECT_FALSE(k->int8_layer().input.dynamic);
  }
}

TEST(Qat, ZeroStepsWeightOnlyIsRtnWithTheSameSpec) {
  for (int bits : {4, 3, 2}) {
    TinyModel teacher(2), a(2), b(2);
    const CalibrationData c = labelled(teacher);
    const std::string target = "w" + std::to_string(bits);
    quantize(a,
             cfg("qat", {{"steps", 0}, {"target", target}, {"group_size", 8}, {"scheme", "asym"}}),
             c);
    quantize(b, cfg("rtn", {{"bits", bits}, {"group_size", 8}, {"scheme", "asym"}}), c);
    const at::Tensor x = TinyModel::input(10);
    EXPECT_TRUE(at::equal(a.forward(x), b.forward(x))) << target;
    EXPECT_EQ(a.layer("fc1").kernel()->quantized_weight()->spec.bits, bits) << target;
    EXPECT_EQ(a.layer("fc1").kernel()->backend(), b.layer("fc1").kernel()->backend());
  }
}

TEST(Qat, TrainingLowersTheLossBelowPtq) {
  for (const char* target : {"w4", "int8"}) {
    TinyModel teacher(3), ptq(3), qat(3);
    const CalibrationData c = labelled(teacher);
    const Json base{{"target", target}, {"group_size", -1}};
    Json trained = base;
    trained["steps"] = 150;
    trained["lr"] = 3e-3;
    trained["batch_size"] = 8;
    Json none = base;
    none["steps"] = 0;
    quantize(ptq, cfg("qat", none), c);
    quantize(qat, cfg("qat", trained), c);
    const double before = loss_on(ptq, c), after = loss_on(qat, c);
    EXPECT_LT(after, before) << target << ": ptq loss " << before << ", qat loss " << after;
    EXPECT_FALSE(at::equal(qat.layer("fc1").weight(), teacher.layer("fc1").weight()))
        << "the fine-tuned weights become the layer's weights";
  }
}

TEST(Qat, LearnableRangesTrain) {
  TinyModel teacher(4), m(4), obs(4);
  const CalibrationData c = labelled(teacher);
  quantize(obs, cfg("qat", {{"steps", 0}}), c);
  quantize(m, cfg("qat", {{"steps", 50}, {"lr", 1e-2}, {"ranges", "learnable"}, {"act_sym", true}}),
           c);
  const auto* k = dynamic_cast<const Int8Kernel*>(m.layer("fc1").kernel().get());
  const auto* k0 = dynamic_cast<const Int8Kernel*>(obs.layer("fc1").kernel().get());
  ASSERT_TRUE(k && k0);
  EXPECT_TRUE(k->int8_layer().input.is_signed);
  EXPECT_NE(k->int8_layer().input.scale, k0->int8_layer().input.scale) << "the range moved";
  EXPECT_TRUE(at::isfinite(m.forward(TinyModel::input(3))).all().item<bool>());
}

TEST(Qat, NeedsLabelsToTrain) {
  TinyModel m(5);
  CalibrationData c;
  c.batches.push_back(TinyModel::input(1));
  expect_error(
      [&] {
        quantize(m, cfg("qat", {{"steps", 10}}), c);
      },
      "qat: fine-tuning needs one label tensor per calibration batch (1 batches), got 0");
  // A failed run leaves runnable fp32 kernels, not training ones.
  EXPECT_EQ(m.layer("fc1").kernel()->backend(), "fp32");
  expect_error(
      [] {
        QuantConfig::from_json({{"algorithm", "qat"}, {"params", {{"target", "w5"}}}}, "c");
      },
      "c.params.target: expected one of int8, w4, w3, w2");
}

}  // namespace
}  // namespace qtune
