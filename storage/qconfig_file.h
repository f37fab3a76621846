// Private to storage/: a saved model's qconfig.json read and checked without
// its tensors (no ATen, so the fuzz targets can link it). storage/artifact.cpp
// then matches the layers against model.safetensors and the model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "quant/quant_spec.h"

namespace qtune::storage_detail {

inline constexpr const char* kQconfigFormat = "qtune-model";
inline constexpr int kQconfigFormatVersion = 1;

/// A quantized layer's entry of qconfig.json's "layers".
struct QconfigLayer {
  std::string name;
  std::string kind;     ///< "Linear" | "Conv2d"
  std::string backend;  ///< as saved; resolved by the loader
  bool int8 = false;    ///< a W8A8 layer: activation fields below are set
  bool int8_dynamic = false;
  bool int8_signed = false;
  QuantSpec spec;
  std::vector<int64_t> shape;  ///< the weight's, every dimension >= 1
};

struct Qconfig {
  Json json;  ///< the whole file
  std::string model_spec;
  std::vector<QconfigLayer>
      quantized;  ///< in file order; unquantized entries are checked, not kept
};

/// Parses `text`, the contents of `qfile`: JSON object, format "qtune-model",
/// format_version (a newer one asks for an upgrade), model, quant_config,
/// source_dtype, and every layer entry. Any problem is a qtune::Error naming
/// `qfile` and the field.
Qconfig parse_qconfig(const std::string& text, const std::string& qfile);

}  // namespace qtune::storage_detail
