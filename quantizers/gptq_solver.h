// Private to quantizers/: GPTQ's math on one 2-D weight, without model
// knowledge (Frantar et al., "GPTQ", and INC's gptq.py, which follows the
// authors' reference):
//   H = running average of 2 X^T X over calibration tokens (X: [tokens, cols])
//   dead columns (H_ii = 0): W[:, i] = 0, H_ii = 1
//   act_order: columns in order of decreasing H_ii (perm), g_idx kept
//   H += percdamp * mean(diag H) * I;  Hinv = upper Cholesky of H^-1
//   per block of block_size columns, column by column:
//     q = Q(w); err = (w - q) / Hinv_ii; W[:, i:] -= err * Hinv[i, i:]
//   after a block: W[:, i2:] -= Err * Hinv[i1:i2, i2:]
// Group parameters are computed when a group's first column is reached, from
// W as it stood at the start of that column's block (the reference does the
// same); static_groups computes all of them up front from the original W.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "quant/quantized_weight.h"

namespace qtune {

/// H = running average of 2 x^T x over the rows (tokens) of every x added.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t cols);
  /// x: [tokens, cols] (any float dtype).
  void add(const at::Tensor& x);
  const at::Tensor& hessian() const { return h_; }  ///< float32 [cols, cols]
  int64_t tokens() const { return n_; }

 private:
  at::Tensor h_;
  int64_t n_ = 0;
};

struct GptqOptions {
  double percdamp = 0.01;    ///< damping as a fraction of mean(diag H)
  int64_t block_size = 128;  ///< columns per lazy-batch block
  bool act_order = false;
  bool static_groups = false;
};

struct GptqResult {
  QuantizedWeight weight;
  double percdamp_used = 0;  ///< > options.percdamp when the Cholesky needed more damping
  bool float64 = false;      ///< the inverse was computed in double precision
};

/// Upper Cholesky factor of H^-1 after damping (dead columns already fixed).
/// Tries float32, then float64, then 10x more damping (up to 4 times);
/// `percdamp_used` / `float64` say what worked. qtune::Error if nothing does.
at::Tensor gptq_inverse_hessian(const at::Tensor& h, double percdamp, double* percdamp_used,
                                bool* float64);

/// GPTQ on `w` (float [rows, cols]; the 2-D view of a Linear or Conv2d weight)
/// with Hessian `h` [cols, cols]. spec: int/nf4/fp4, per channel or per group,
/// group_dim 1. `shape` is the layer's weight shape (rows first).
GptqResult gptq_quantize(const at::Tensor& w, const at::Tensor& h, const QuantSpec& spec,
                         const GptqOptions& options, std::vector<int64_t> shape);

}  // namespace qtune
