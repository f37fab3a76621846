// Private to storage/: a layer's QuantSpec as it is written in qconfig.json
// (no ATen, so the fuzz targets can link it; storage/quantized_layout_check.h
// checks that a set of saved tensors fits a spec).
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "quant/quant_spec.h"

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

}  // namespace qtune::storage_detail
