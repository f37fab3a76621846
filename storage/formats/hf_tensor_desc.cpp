#include "storage/formats/hf_tensor_desc.h"

#include "common/error.h"

namespace qtune {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

std::string describe_tensor_desc(const HfTensorDesc& t) {
  return (t.dtype.empty() ? std::string("another dtype") : t.dtype) + " " + shape_str(t.shape);
}

void check_hf_tensor_desc(const HfTensorDesc& t, HfTensorKind kind,
                          const std::vector<int64_t>& shape, const std::string& where,
                          const std::string& name, const std::string& why) {
  QT_CHECK(t.present, where, ": tensor '", name, "' is missing (", why, ")");
  const bool dtype_ok =
      kind == HfTensorKind::kInt32
          ? t.dtype == "int32"
          : (t.dtype == "float16" || t.dtype == "bfloat16" || t.dtype == "float32");
  QT_CHECK(dtype_ok && t.shape == shape, where, ": tensor '", name, "': expected ",
           kind == HfTensorKind::kInt32 ? "int32" : "float16", " ", shape_str(shape), " (", why,
           "), got ", describe_tensor_desc(t));
}

}  // namespace qtune
