// The quantization algorithms behind one interface, registered by name.
//
// A QuantConfig says what to do to a model: one algorithm with its global
// parameters, per-layer overrides (by layer name regex or by layer type, INC's
// set_local; later matches win, type before name), layers kept in fp32, and
// the backend that executes the result.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "models/dataset.h"
#include "models/model.h"
#include "quantizers/param_schema.h"

namespace qtune {

struct LayerOverride {
  std::string name_regex;  ///< std::regex_match against the layer name; empty = any
  std::string layer_type;  ///< "Linear" | "Conv2d"; empty = any
  Json params;             ///< parameters that replace the global ones for matching layers
};

struct QuantConfig {
  std::string algorithm = "rtn";
  Json params = Json::object();  ///< validated against the algorithm's schema
  std::vector<LayerOverride> overrides;
  std::vector<std::string> fp32_layers;  ///< name regexes kept unquantized
  std::string backend = "auto";

  /// {"algorithm":..., "params":{...}, "overrides":[...], "fp32_layers":[...], "backend":...}
  Json to_json() const;
  /// Parses and validates (algorithm known, params valid); `where` names the source.
  static QuantConfig from_json(const Json& j, const std::string& where);
};

/// Calibration inputs: batches the model's forward accepts (images; for language
/// models int64 token ids [n, seqlen]). `labels`, when given, has one tensor per
/// batch (class ids): what training-based methods (QAT) fine-tune on.
struct CalibrationData {
  std::vector<at::Tensor> batches;
  std::vector<at::Tensor> labels;
};

/// What quantizing did, per layer (recorded and saved in qconfig.json).
struct LayerReport {
  std::string name;
  std::string kind;  ///< "Linear" | "Conv2d"
  bool quantized = false;
  Json params;          ///< effective parameters for this layer
  std::string backend;  ///< chosen backend
  std::string backend_reason;
  std::string
      backend_detail;  ///< the kernel's path within its backend (LayerKernel::backend_detail)
};

class Quantizer {
 public:
  virtual ~Quantizer() = default;
  virtual std::string name() const = 0;
  virtual const ParamSchema& schema() const = 0;
  virtual bool needs_calibration() const = 0;
  /// Quantizes `model` in place according to `config`.
  virtual std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                            const CalibrationData& calibration) const = 0;
};

/// Registry. Built-in algorithms are listed in quantizers/registry.cpp (explicitly:
/// static-init registration is dropped by the linker from static libraries).
void register_quantizer(std::shared_ptr<const Quantizer> q);
const Quantizer& quantizer_by_name(const std::string& name);  ///< qtune::Error lists known names
std::vector<std::string> quantizer_names();

/// Effective parameters for one layer: global params, then overrides by type,
/// then by name regex (in order), validated. Returns null if the layer stays fp32.
std::optional<Json> layer_params(const QuantConfig& config, const LayerSlot& layer);

/// The library entry: quantizes `model` in place with `config`.
std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                  const CalibrationData& calibration = {});

}  // namespace qtune
