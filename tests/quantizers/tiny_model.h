// A hand-built model for quantizer tests: conv -> flatten -> fc1 -> relu -> head.fc2.
#pragma once

#include <ATen/ATen.h>

#include "models/model.h"

namespace qtune::testing {

class TinyModel : public Model {
 public:
  /// Weights drawn from `seed`; `heavy_tails` cubes them (outliers, where clipping pays).
  explicit TinyModel(uint64_t seed = 1, bool heavy_tails = false)
      : TinyModel(make(seed, heavy_tails)) {}

  std::string spec() const override { return "test:tiny"; }
  at::Tensor forward(const at::Tensor& x) const override {
    at::Tensor h = conv_(x).flatten(1);  // [N, 2, 4, 4] -> [N, 32]
    return fc2_(at::relu(fc1_(h)));
  }
  std::vector<LayerSlot*> layers() override { return {&conv_, &fc1_, &fc2_}; }
  std::unique_ptr<Model> clone() const override { return std::make_unique<TinyModel>(*this); }

  static at::Tensor input(uint64_t seed) {
    at::manual_seed(seed);
    return at::randn({5, 3, 4, 4});
  }

 private:
  struct Slots {
    LayerSlot conv, fc1, fc2;
  };
  static Slots make(uint64_t seed, bool heavy) {
    at::manual_seed(seed);
    auto w = [heavy](std::vector<int64_t> shape) {
      at::Tensor t = at::randn(shape);
      return heavy ? t.pow(3) : t;
    };
    ConvGeometry g;
    g.padding = {1, 1};
    return Slots{LayerSlot("conv", LayerKind::kConv2d, w({2, 3, 3, 3}), at::randn({2}), g),
                 LayerSlot("fc1", LayerKind::kLinear, w({16, 32}), at::randn({16})),
                 LayerSlot("head.fc2", LayerKind::kLinear, w({4, 16}), std::nullopt)};
  }
  explicit TinyModel(Slots s) : conv_(s.conv), fc1_(s.fc1), fc2_(s.fc2) {}

  LayerSlot conv_, fc1_, fc2_;
};

}  // namespace qtune::testing
