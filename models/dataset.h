// Data a model is calibrated and evaluated on.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace qtune {

/// A labelled classification set held in memory.
struct Dataset {
  at::Tensor inputs;  ///< float32 [N, ...], already normalised for the model
  at::Tensor labels;  ///< int64 [N]
  int64_t size() const { return inputs.size(0); }
  /// Rows [begin, begin+count) (clamped to the end).
  Dataset slice(int64_t begin, int64_t count) const;
  /// Consecutive batches of at most `batch` rows.
  std::vector<at::Tensor> input_batches(int64_t batch) const;
  /// The labels cut like input_batches; empty when the set has no labels (token windows).
  std::vector<at::Tensor> label_batches(int64_t batch) const;
};

}  // namespace qtune
