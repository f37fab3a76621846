// `search_space: auto | auto-woq | auto-int8`: the algorithm blocks of a
// default space, so that a user need not list every algorithm by hand.
//
// Weight-only algorithms get bits {2, 3, 4, 8} x group_size {32, 128, -1}
// x scheme {sym, asym} (hqq: asym by construction, no scheme) and their main
// knob (rtn use_mse_search, gptq act_order, awq auto clip, hqq quant_scale); int8 ones:
// static x the activation observers, dynamic x weight granularity,
// smoothquant x alpha (0.5, auto) x observers {minmax, kl}; qat once per
// target (auto only: it trains). Each weight-only spec is crossed with the
// backends of this machine that run it on every layer kind the model has
// (a block per spec), each int8 algorithm with the backends that run int8.
#pragma once

#include <string>
#include <vector>

#include "tuner/tuning_config.h"

namespace qtune {

/// "auto" | "auto-woq" | "auto-int8".
const std::vector<std::string>& auto_space_names();

/// The blocks of the named space; `has_conv` = the model has Conv2d layers
/// (a backend must run those too). Every registered algorithm appears in "auto".
std::vector<AlgorithmBlock> auto_search_space(const std::string& name, bool has_conv);

}  // namespace qtune
