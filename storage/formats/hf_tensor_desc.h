// A checkpoint tensor as its safetensors header describes it (dtype name and
// shape), and the one check of it against what a GPTQ/AWQ layout needs: no
// ATen, so the fuzz targets can link it. hf_tensor_check.h applies it to tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qtune {

enum class HfTensorKind { kInt32, kFloat };  ///< kFloat: fp16, bf16 or fp32

struct HfTensorDesc {
  bool present = false;
  std::string dtype;  ///< "int32", "float16", "bfloat16", "float32", "int64", ...
  std::vector<int64_t> shape;
};

/// qtune::Error "<where>: tensor '<name>': expected int32 [a, b] (<why>), got ..."
/// (or "... is missing (<why>)") unless `t` is present with that kind and shape.
void check_hf_tensor_desc(const HfTensorDesc& t, HfTensorKind kind,
                          const std::vector<int64_t>& shape, const std::string& where,
                          const std::string& name, const std::string& why);

/// "int32 [8, 64]"
std::string describe_tensor_desc(const HfTensorDesc& t);

}  // namespace qtune
