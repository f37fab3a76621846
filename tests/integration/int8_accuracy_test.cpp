// The accuracy proofs on builtin:fmnist-cnn (whole 10k test split):
// static and dynamic int8 lose at most 0.5 top-1 points; QAT with 3-bit
// weights recovers at least half of what 3-bit RTN with the same spec loses.
// The model is trained once and cached under QTUNE_TEST_CACHE_DIR (~70 s).
#include <gtest/gtest.h>

#include <iostream>

#include "models/builtin.h"
#include "quantizers/quantizer.h"

namespace qtune {
namespace {

const char kSpec[] = "builtin:fmnist-cnn";

struct Workload {
  ModelPtr model;
  TaskData data;
  double fp32 = 0;
};

Workload& workload() {
  static Workload* w = [] {
    auto* wl = new Workload;
    ModelOptions o;
    o.cache_dir = QTUNE_TEST_CACHE_DIR;
    wl->model = load_model(kSpec, o);
    // 256 calibration rows in batches of 64: what `qtune quantize` uses.
    wl->data = load_task_data(kSpec, 256, /*eval_samples=*/0, /*seed=*/0);
    wl->fp32 = wl->data.evaluate(*wl->model).value;
    return wl;
  }();
  return *w;
}

CalibrationData calibration(const Dataset& d) { return {d.input_batches(64), d.label_batches(64)}; }

double top1_after(const QuantConfig& c, const CalibrationData& calib,
                  std::vector<LayerReport>* reports = nullptr) {
  Workload& w = workload();
  ModelPtr m = w.model->clone();
  std::vector<LayerReport> r = quantize(*m, c, calib);
  for (const LayerReport& lr : r) EXPECT_TRUE(lr.quantized) << lr.name;
  if (reports) *reports = r;
  return w.data.evaluate(*m).value;
}

QuantConfig config(const std::string& algo, Json params = Json::object()) {
  QuantConfig c;
  c.algorithm = algo;
  c.params = std::move(params);
  return c;
}

void report(const std::string& what, double top1) {
  std::cout << "[int8-accuracy] " << what << ": top-1 " << top1 * 100 << " % (fp32 "
            << workload().fp32 * 100 << " %)\n";
}

TEST(Int8Accuracy, StaticLosesAtMostHalfAPoint) {
  const double fp32 = workload().fp32;
  ASSERT_GT(fp32, 0.85) << "the built-in model did not train";
  std::vector<LayerReport> r;
  const double top1 = top1_after(config("static"), calibration(workload().data.calibration), &r);
  report("static int8 (minmax, u8 asym, per-channel, backend " + r[0].backend + ")", top1);
  EXPECT_GE(top1, fp32 - 0.005);
}

TEST(Int8Accuracy, DynamicLosesAtMostHalfAPoint) {
  const double fp32 = workload().fp32;
  std::vector<LayerReport> r;
  const double top1 = top1_after(config("dynamic"), {}, &r);
  report("dynamic int8 (backend " + r[0].backend + ")", top1);
  EXPECT_GE(top1, fp32 - 0.005);
}

TEST(Int8Accuracy, SmoothQuantStaysClose) {
  const double fp32 = workload().fp32;
  const double top1 = top1_after(config("smoothquant", {{"auto_alpha", true}}),
                                 calibration(workload().data.calibration));
  report("smoothquant int8 (auto alpha)", top1);
  EXPECT_GE(top1, fp32 - 0.005);
}

TEST(Int8Accuracy, QatW3RecoversAtLeastHalfOfRtnLoss) {
  const double fp32 = workload().fp32;
  // Per-channel 3-bit: RTN loses several points here, so half of that loss is
  // far outside the noise of a 10k-image top-1 (at 4 bits RTN lost 0.36 points
  // on an AVX2 machine and QAT recovered 0.17: too small a difference to test).
  // Measured (AVX-512 machine, 10k test images): fp32 89.89 %, RTN 86.73 %
  // (3.16 points lost, 1.16 above the 2-point floor below), QAT 89.33 %
  // (2.60 points back, 1.02 above the half, 1.58, that the test asks).
  const Json spec{{"bits", 3}, {"group_size", -1}, {"scheme", "sym"}};
  const double rtn = top1_after(config("rtn", spec), {});
  // Labelled rows from the training split (the task's own training data).
  const TaskData train = load_task_data(kSpec, 4096, /*eval_samples=*/1, /*seed=*/1);
  Json qat{{"target", "w3"}, {"group_size", -1}, {"scheme", "sym"},
           {"steps", 300},   {"lr", 1e-4},       {"batch_size", 64}};
  const double q = top1_after(config("qat", qat), calibration(train.calibration));
  report("rtn w3 per-channel", rtn);
  report("qat w3 per-channel", q);
  const double lost = fp32 - rtn;
  ASSERT_GT(lost, 0.02) << "3-bit RTN must lose several points for the comparison to mean anything";
  EXPECT_GE(q - rtn, 0.5 * lost) << "rtn " << rtn << " qat " << q << " fp32 " << fp32;
}

}  // namespace
}  // namespace qtune
