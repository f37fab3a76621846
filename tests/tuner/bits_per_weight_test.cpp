// Bits per weight of a quantized model worked by hand on fmnist-cnn's fc2
// ([10, 128]: 1280 weights), the other layers left fp32; and the constraint.
#include "tuner/bits_per_weight.h"

#include <gtest/gtest.h>

#include "tests/support/random_fmnist_cnn.h"
#include "tuner/selection.h"
#include "tuner/trial_runner.h"

namespace qtune {
namespace {

ModelPtr fc2_alone(int bits, const std::string& scheme, const std::string& backend) {
  const ModelPtr base = testing::random_fmnist_cnn(3);
  QuantConfig c =
      QuantConfig::from_json({{"algorithm", "rtn"},
                              {"params", {{"bits", bits}, {"group_size", 128}, {"scheme", scheme}}},
                              {"fp32_layers", {"conv1", "conv2", "fc1"}},
                              {"backend", backend}},
                             "test");
  std::vector<LayerReport> reports;
  return quantize_clone(*base, c, CalibrationData{}, &reports);
}

const LayerSlot& slot(const Model& m, const std::string& name) {
  for (const LayerSlot* s : m.layers())
    if (s->name() == name) return *s;
  throw std::runtime_error("no layer " + name);
}

TEST(BitsPerWeight, Int4Group128SymIsCodesPlusOneFp32ScalePerRow) {
  for (const std::string backend : {"eager", "auto"}) {
    SCOPED_TRACE(backend);
    const ModelPtr m = fc2_alone(4, "sym", backend);
    // Codes: 128 columns / 8 per int32 word = 16 words = 64 bytes per row;
    // one group per row: one fp32 scale (4 bytes); sym: no zero point.
    // 10 x (64 + 4) = 680 bytes; x 8 / 1280 = 4.25 bits per weight.
    EXPECT_EQ(layer_weight_bytes(slot(*m, "fc2")), 680);
    ASSERT_TRUE(bits_per_weight(*m));
    EXPECT_DOUBLE_EQ(*bits_per_weight(*m), 4.25) << "the fp32 layers are outside it";
  }
}

TEST(BitsPerWeight, AsymAddsAnInt32ZeroPointPerGroup) {
  const ModelPtr m = fc2_alone(4, "asym", "eager");
  EXPECT_EQ(layer_weight_bytes(slot(*m, "fc2")), 720);  // 680 + 10 x 4
  EXPECT_DOUBLE_EQ(*bits_per_weight(*m), 4.5);
}

TEST(BitsPerWeight, ThreeBitsPackTenCodesPerWord) {
  const ModelPtr m = fc2_alone(3, "sym", "eager");
  // ceil(128 / 10) = 13 words = 52 bytes per row, + 4 for the scale: 560 bytes.
  EXPECT_EQ(layer_weight_bytes(slot(*m, "fc2")), 560);
  EXPECT_DOUBLE_EQ(*bits_per_weight(*m), 3.5);
}

TEST(BitsPerWeight, NoneWithoutAQuantizedLayer) {
  const ModelPtr m = testing::random_fmnist_cnn(3);
  EXPECT_FALSE(bits_per_weight(*m).has_value());
}

TEST(BitsPerWeight, ConstraintPassesAtTheLimitAndFailsAbove) {
  Constraints c;
  c.max_accuracy_loss = 0.5;
  c.max_bits_per_weight = 4.25;
  const Json baseline = {{"value", 0.9}};
  EXPECT_TRUE(judge_trial("COMPLETED", 0.9, 1.0, 100, baseline, c, 4.25).passed);
  const Verdict over = judge_trial("COMPLETED", 0.9, 1.0, 100, baseline, c, 4.5);
  EXPECT_FALSE(over.passed);
  EXPECT_EQ(over.reason, "bits per weight 4.5 > 4.25");
  EXPECT_FALSE(judge_trial("COMPLETED", 0.9, 1.0, 100, baseline, c, std::nullopt).passed)
      << "no quantized layer: nothing meets a bits-per-weight budget";
  c.max_bits_per_weight.reset();
  EXPECT_TRUE(judge_trial("COMPLETED", 0.9, 1.0, 100, baseline, c, std::nullopt).passed);
}

}  // namespace
}  // namespace qtune
