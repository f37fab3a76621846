// Private to storage/: the check that a set of saved tensors fits a layer's
// QuantSpec (qconfig.json's spec, storage/quant_spec_json.h).
#pragma once

#include <string>

#include "quant/quantized_weight.h"

namespace qtune::storage_detail {

/// Checks dtypes and shapes of packed/scale/zero against spec and shape:
/// int32 packed [rows, ceil(cols/P)], float32 scale [rows or 1, groups],
/// int32 zero like scale for asym and absent for sym.
void check_quantized_layout(const QuantizedWeight& w, const std::string& where);

}  // namespace qtune::storage_detail
