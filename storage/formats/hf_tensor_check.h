// Shared by the GPTQ and AWQ layouts: one check of a checkpoint tensor's
// presence, dtype and shape, with the one-line error both formats give
// (storage/formats/hf_tensor_desc.h holds the check itself).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "storage/formats/hf_tensor_desc.h"

namespace qtune {

/// check_hf_tensor_desc of what `t` is (undefined = missing).
void check_hf_tensor(const at::Tensor& t, HfTensorKind kind, const std::vector<int64_t>& shape,
                     const std::string& where, const std::string& name, const std::string& why);

/// "int32 [8, 64]"
std::string describe_tensor(const at::Tensor& t);

}  // namespace qtune
