#include "storage/formats/hf_tensor_check.h"

namespace qtune {

namespace {

HfTensorDesc desc_of(const at::Tensor& t) {
  HfTensorDesc d;
  if (!t.defined()) return d;
  d.present = true;
  switch (t.scalar_type()) {
    case at::kInt:
      d.dtype = "int32";
      break;
    case at::kLong:
      d.dtype = "int64";
      break;
    case at::kShort:
      d.dtype = "int16";
      break;
    case at::kChar:
      d.dtype = "int8";
      break;
    case at::kByte:
      d.dtype = "uint8";
      break;
    case at::kHalf:
      d.dtype = "float16";
      break;
    case at::kBFloat16:
      d.dtype = "bfloat16";
      break;
    case at::kFloat:
      d.dtype = "float32";
      break;
    default:
      break;
  }
  d.shape = t.sizes().vec();
  return d;
}

}  // namespace

std::string describe_tensor(const at::Tensor& t) { return describe_tensor_desc(desc_of(t)); }

void check_hf_tensor(const at::Tensor& t, HfTensorKind kind, const std::vector<int64_t>& shape,
                     const std::string& where, const std::string& name, const std::string& why) {
  check_hf_tensor_desc(desc_of(t), kind, shape, where, name, why);
}

}  // namespace qtune
