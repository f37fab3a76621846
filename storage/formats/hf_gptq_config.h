// The quantization_config of a GPTQ checkpoint's config.json (AutoGPTQ /
// GPTQModel), parsed and written: no ATen, so the fuzz targets can link it.
// storage/formats/hf_gptq_layout.h packs and reads the tensors it describes.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"

namespace qtune {

/// 2, 3, 4 or 8: the widths the layout packs.
bool gptq_bits_supported(int64_t bits);

/// Groups of `in` input channels at `group_size` (-1 = one group), any
/// positive group size without overflow.
int64_t gptq_group_count(int64_t group_size, int64_t in);

/// How one layer is quantized, in the terms of the GPTQ config.
struct GptqLayerFormat {
  int bits = 4;
  int64_t group_size = 128;  ///< -1 = one group per output channel
  bool desc_act = false;     ///< act-order: g_idx is required and may be any grouping
  bool sym = true;

  bool operator==(const GptqLayerFormat& o) const {
    return bits == o.bits && group_size == o.group_size && desc_act == o.desc_act && sym == o.sym;
  }
};

/// config.json's quantization_config for quant_method "gptq".
struct GptqConfig {
  GptqLayerFormat base;
  std::string checkpoint_format = "gptq";  ///< "gptq" (v1) | "gptq_v2"
  bool lm_head = false;                    ///< lm_head is quantized too
  /// GPTQModel's per-module overrides, first match wins (re.match: anchored
  /// at the start): "-:REGEX" = not quantized, "+:REGEX" or "REGEX" = the
  /// fields given (bits, group_size, desc_act, sym) replace the base ones.
  std::vector<std::pair<std::string, Json>> dynamic;

  bool v1() const { return checkpoint_format == "gptq"; }
  /// The format of layer `name`, or nullopt when the config leaves it unquantized.
  std::optional<GptqLayerFormat> layer(const std::string& name) const;

  Json to_json() const;
  /// Parses and validates; errors name `where` (config.json) and the field.
  static GptqConfig from_json(const Json& j, const std::string& where);
};

}  // namespace qtune
