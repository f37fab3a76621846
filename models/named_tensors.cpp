#include "models/named_tensors.h"

#include "common/error.h"

namespace qtune {

at::Tensor take_tensor(const std::string& spec, const std::map<std::string, at::Tensor>& tensors,
                       const std::string& name, at::IntArrayRef shape, at::ScalarType dtype) {
  auto it = tensors.find(name);
  QT_CHECK(it != tensors.end(), "model ", spec, ": tensor '", name, "' is missing");
  const at::Tensor& t = it->second;
  QT_CHECK(t.defined() && t.sizes() == shape, "model ", spec, ": tensor '", name,
           "' must have shape ", shape, ", got ", t.defined() ? t.sizes() : at::IntArrayRef{});
  QT_CHECK(at::isFloatingType(t.scalar_type()), "model ", spec, ": tensor '", name,
           "' must be floating point, got ", t.scalar_type());
  if (dtype != at::kFloat) {
    QT_CHECK(dtype == at::kBFloat16 || dtype == at::kHalf, "model ", spec, ": weights are held in ",
             "float32, bfloat16 or float16, not ", dtype);
    return t.scalar_type() == dtype && t.is_contiguous() ? t : t.to(dtype).contiguous();
  }
  // clone() even for fp32 input: to() and contiguous() may return the same storage.
  return t.to(at::kFloat).contiguous().clone();
}

}  // namespace qtune
