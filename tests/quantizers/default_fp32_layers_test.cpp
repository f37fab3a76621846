// A model's default fp32 layers (a language model's lm_head) stay unquantized
// unless a config override names them, as in INC.
#include <gtest/gtest.h>

#include "quantizers/quantizer.h"
#include "tiny_model.h"

namespace qtune {
namespace {

class HeadKeptModel : public testing::TinyModel {
 public:
  std::vector<std::string> default_fp32_layers() const override { return {"head.fc2"}; }
  std::unique_ptr<Model> clone() const override { return std::make_unique<HeadKeptModel>(*this); }
};

TEST(DefaultFp32Layers, KeptUnlessAnOverrideNamesThem) {
  HeadKeptModel model;
  QuantConfig c;
  c.params = {{"bits", 4}};
  quantize(model, c);
  EXPECT_TRUE(model.layer("fc1").quantized());
  EXPECT_FALSE(model.layer("head.fc2").quantized());

  // The escaped default must not match other names ("headXfc2" would match "head.fc2" as a regex).
  HeadKeptModel named;
  c.overrides.push_back({"head\\.fc2", "", Json{{"bits", 8}}});
  quantize(named, c);
  ASSERT_TRUE(named.layer("head.fc2").quantized());
  EXPECT_EQ(named.layer("head.fc2").kernel()->quantized_weight()->spec.bits, 8);
}

}  // namespace
}  // namespace qtune
