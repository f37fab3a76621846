// Taking a model's parameters out of a name -> tensor map (a checkpoint).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace qtune {

/// The tensor `name` from `tensors`, checked to have `shape` and a floating
/// dtype, as an owned contiguous fp32 copy: the model must not share storage
/// with a caller (or a file mapping) that may change or go away. Errors name
/// the model `spec` and the tensor.
at::Tensor take_tensor(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                       const std::string& name, at::IntArrayRef shape);

}  // namespace qtune
