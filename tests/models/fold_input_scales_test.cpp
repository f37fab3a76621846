// Folding per-input-channel scales (AWQ, SmoothQuant) must leave the fp32
// function unchanged, whatever absorbs them: a preceding layer across ReLU and
// max-pooling, or an inserted input multiplier.
#include <gtest/gtest.h>

#include "models/fmnist/fmnist_cnn.h"
#include "support/expect_error.h"

namespace qtune {
namespace {
using testing::expect_error;

ModelPtr random_cnn() {
  at::manual_seed(3);
  std::map<std::string, at::Tensor> t;
  for (const FmnistLayerSpec& l : fmnist_cnn_layers()) {
    t[std::string(l.name) + ".weight"] = at::randn(l.weight_shape) * 0.2;
    t[std::string(l.name) + ".bias"] = at::randn({l.weight_shape[0]}) * 0.1;
  }
  return make_fmnist_cnn("test:cnn", t);
}

TEST(FoldInputScales, EveryGroupOfTheCnnKeepsTheOutput) {
  ModelPtr model = random_cnn();
  const at::Tensor x = at::randn({4, 1, 28, 28});
  const at::Tensor before = model->forward(x);
  ModelPtr folded = model->clone();
  for (const InputScaleGroup& g : folded->input_scale_groups(0)) {
    const int64_t in = folded->layer(g.layers[0]).weight().size(1);
    folded->fold_input_scales(g, at::rand({in}) * 4 + 0.25);
  }
  EXPECT_TRUE(at::allclose(folded->forward(x), before, 1e-4, 1e-4));
  // The weights really changed, and the original model (sharing tensors) did not.
  EXPECT_FALSE(at::equal(folded->layer("conv2").weight(), model->layer("conv2").weight()));
  EXPECT_TRUE(at::equal(model->forward(x), before));
  EXPECT_TRUE(folded->layer("fc1").input_multiplier().defined());
  EXPECT_FALSE(folded->layer("fc2").input_multiplier().defined());
}

TEST(FoldInputScales, RejectsNonPositiveScalesAndWrongSizes) {
  ModelPtr model = random_cnn();
  expect_error(
      [&] {
        model->fold_input_scales({"conv1", {"conv2"}}, at::zeros({16}));
      },
      "finite positive");
  expect_error(
      [&] {
        model->fold_input_scales({"conv1", {"conv2"}}, at::ones({15}));
      },
      "15 input scales for 16 input channels");
}

}  // namespace
}  // namespace qtune
