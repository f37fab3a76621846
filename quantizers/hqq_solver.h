// Private to quantizers/: HQQ's half-quadratic optimisation of the zero point
// (Badri & Shaji, "Half-Quadratic Quantization"; mobiusml/hqq
// optimize_weights_proximal, INC's hqq/optimizer.py). Data-free: it minimises
// the lp-norm (p < 1) of the weight error ||W - Q^-1(Q(W))||_p^p, which
// tolerates a few outliers better than the squared error, by alternating
//   W_e = shrink_lp(W - W_r, beta)                  (proximal step on the error)
//   z   = mean_group(W_q - (W - W_e) / s)           (closed-form zero point)
// with beta growing by kappa each iteration.
#pragma once

#include <ATen/ATen.h>

#include "quant/quantized_weight.h"

namespace qtune {

struct HqqOptions {
  double lp_norm = 0.7;
  double beta = 10.0;
  double kappa = 1.01;
  int iters = 20;
};

/// Quantizes `w` (any shape, rows first) with `spec` (int, asym, float_zero;
/// scale_quant / zero_quant optional). Scales are RTN's (decoded first when
/// compressed); the zero point of each group is optimised, keeping for each
/// group the iterate with the lowest lp error (the first is RTN's own zero, so
/// no group ends worse than RTN before zero quantization).
QuantizedWeight hqq_quantize(const at::Tensor& w, const QuantSpec& spec, const HqqOptions& opt);

/// sum |a - b|^p over all elements (the objective HQQ minimises).
double lp_error(const at::Tensor& a, const at::Tensor& b, double p);

}  // namespace qtune
