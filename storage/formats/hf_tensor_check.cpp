#include "storage/formats/hf_tensor_check.h"

#include <sstream>

#include "common/error.h"

namespace qtune {

std::string describe_tensor(const at::Tensor& t) {
  const char* dtype = "another dtype";
  switch (t.scalar_type()) {
    case at::kInt:
      dtype = "int32";
      break;
    case at::kLong:
      dtype = "int64";
      break;
    case at::kShort:
      dtype = "int16";
      break;
    case at::kChar:
      dtype = "int8";
      break;
    case at::kByte:
      dtype = "uint8";
      break;
    case at::kHalf:
      dtype = "float16";
      break;
    case at::kBFloat16:
      dtype = "bfloat16";
      break;
    case at::kFloat:
      dtype = "float32";
      break;
    default:
      break;
  }
  std::ostringstream s;
  s << dtype << " " << t.sizes();
  return s.str();
}

void check_hf_tensor(const at::Tensor& t, HfTensorKind kind, const std::vector<int64_t>& shape,
                     const std::string& where, const std::string& name, const std::string& why) {
  QT_CHECK(t.defined(), where, ": tensor '", name, "' is missing (", why, ")");
  const at::ScalarType d = t.scalar_type();
  const bool dtype_ok = kind == HfTensorKind::kInt32
                            ? d == at::kInt
                            : (d == at::kHalf || d == at::kBFloat16 || d == at::kFloat);
  QT_CHECK(dtype_ok && t.sizes() == at::IntArrayRef(shape), where, ": tensor '", name,
           "': expected ", kind == HfTensorKind::kInt32 ? "int32" : "float16", " ",
           at::IntArrayRef(shape), " (", why, "), got ", describe_tensor(t));
}

}  // namespace qtune
