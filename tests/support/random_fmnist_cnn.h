// builtin:fmnist-cnn with random weights: no training and no data set needed,
// for tests of quantizers and saved models that need a real model's layers.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "models/builtin.h"

namespace qtune::testing {

/// Weights and biases ~ N(0, 0.1^2), drawn in layer-name order from `seed`.
inline ModelPtr random_fmnist_cnn(uint64_t seed) {
  at::manual_seed(seed);
  std::map<std::string, at::Tensor> t;
  const std::map<std::string, std::vector<int64_t>> shapes{{"conv1", {16, 1, 3, 3}},
                                                           {"conv2", {32, 16, 3, 3}},
                                                           {"fc1", {128, 1568}},
                                                           {"fc2", {10, 128}}};
  for (const auto& [name, shape] : shapes) {
    t[name + ".weight"] = at::randn(shape) * 0.1;
    t[name + ".bias"] = at::randn({shape[0]}) * 0.1;
  }
  return build_model("builtin:fmnist-cnn", t);
}

}  // namespace qtune::testing
