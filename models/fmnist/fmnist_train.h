// Training the built-in Fashion-MNIST CNN. Private to models/. The only TU
// that needs autograd and optimizers (fmnist_train.cpp) includes <torch/torch.h>.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "models/dataset.h"

namespace qtune {

struct FmnistTrainRecipe {
  int64_t epochs = 3;
  int64_t max_steps = -1;  ///< stop after this many optimizer steps; -1 = all epochs
  int64_t batch = 128;
  double lr = 1e-3;    ///< Adam, peak
  bool cosine = true;  ///< anneal lr to 0 over the run (cosine), else constant
  uint64_t seed = 0;
  int threads = 0;  ///< intra-op threads while training; 0 = keep the current setting
  /// Identifies the recipe in the weight cache, so a changed recipe retrains.
  std::string tag() const;
};

/// Trains from a seeded init with seeded shuffling; returns "<layer>.weight" /
/// "<layer>.bias" as plain float32 tensors (no autograd history). With the same
/// recipe, data and thread count the result is bit-identical. Prints epoch,
/// step, loss and ETA to stderr when `progress`.
std::map<std::string, at::Tensor> train_fmnist_cnn(const Dataset& train,
                                                   const FmnistTrainRecipe& recipe, bool progress);

}  // namespace qtune
