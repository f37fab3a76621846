// Private to storage/: a layer's QuantSpec as it is written in qconfig.json,
// and the checks that a set of saved tensors fits it.
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "quantizers/core/quantized_weight.h"

namespace qtune::storage_detail {

/// {"bits", "scheme", "granularity", "group_size", "full_range", "clip_ratio", "dtype",
/// "group_dim"}, plus "sym_grid" ("gptq"; absent = "rtn"), "float_zero", "g_idx",
/// "scale_quant" / "zero_quant" ({bits, scheme, group_size}) only when used;
/// older files without them still load.
Json spec_to_json(const QuantSpec& spec);
/// Inverse of spec_to_json; `where` names the file and field for errors.
QuantSpec spec_from_json(const Json& j, const std::string& where);

/// Best effort from an algorithm's effective parameters (INC names: bits,
/// group_size with -1 = per channel, use_sym or scheme, use_full_range), for
/// kernels that do not expose their QuantizedWeight. Null if `bits` is absent.
std::optional<QuantSpec> spec_from_params(const Json& params);

/// Checks dtypes and shapes of packed/scale/zero against spec and shape:
/// int32 packed [rows, ceil(cols/P)], float32 scale [rows or 1, groups],
/// int32 zero like scale for asym and absent for sym.
void check_quantized_layout(const QuantizedWeight& w, const std::string& where);

}  // namespace qtune::storage_detail
