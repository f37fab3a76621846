// The quantization_config of an AutoAWQ GEMM checkpoint's config.json,
// parsed and written: no ATen, so the fuzz targets can link it.
// storage/formats/hf_awq_layout.h packs and reads the tensors it describes.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"

namespace qtune {

/// config.json's quantization_config for quant_method "awq".
struct AwqConfig {
  int64_t group_size = 128;
  /// Layers left unquantized that a runtime would otherwise quantize (full names;
  /// transformers matches them as substrings of module names).
  std::vector<std::string> modules_to_not_convert;

  Json to_json() const;
  /// Parses and validates (version gemm, 4 bits, zero_point true); errors name `file`.
  static AwqConfig from_json(const Json& j, const std::string& file);
};

}  // namespace qtune
