// Taking a model's parameters out of a name -> tensor map (a checkpoint).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace qtune {

/// The tensor `name` from `tensors`, checked to have `shape` and a floating
/// dtype, held in `dtype`. fp32: an owned contiguous copy, since the model must
/// not share storage with a caller that may change it. bf16/fp16: the given
/// tensor itself when it already has that dtype and is contiguous -- a view of
/// a checkpoint's private file mapping stays one, so the processes that map
/// the file share its pages -- else a converted copy. Errors name the model
/// `spec` and the tensor.
at::Tensor take_tensor(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                       const std::string& name, at::IntArrayRef shape,
                       at::ScalarType dtype = at::kFloat);

}  // namespace qtune
