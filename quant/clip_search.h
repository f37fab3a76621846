// Clip-ratio search (INC RTN's use_mse_search, `search_clip`): shrink the
// quantization range when that lowers the weight's own quantization error.
#pragma once

#include <ATen/ATen.h>

#include "quant/quant_spec.h"

namespace qtune {

/// The ratio among 1.0, 0.995, ..., 0.805 (40 values) whose fake-quantized
/// weight has the smallest mean squared error against `w`; the first (largest)
/// ratio wins ties, so the result is never worse than 1.0. spec.clip_ratio is ignored.
double search_clip_ratio(const at::Tensor& w, const QuantSpec& spec);

}  // namespace qtune
