// Shared by the GPTQ and AWQ layouts: one check of a checkpoint tensor's
// presence, dtype and shape, with the one-line error both formats give.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace qtune {

enum class HfTensorKind { kInt32, kFloat };  ///< kFloat: fp16, bf16 or fp32

/// qtune::Error "<where>: tensor '<name>': expected int32 [a, b] (<why>), got ..."
/// (or "... is missing (<why>)") unless `t` is defined with that kind and shape.
void check_hf_tensor(const at::Tensor& t, HfTensorKind kind, const std::vector<int64_t>& shape,
                     const std::string& where, const std::string& name, const std::string& why);

/// "int32 [8, 64]"
std::string describe_tensor(const at::Tensor& t);

}  // namespace qtune
