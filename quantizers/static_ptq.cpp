// Static post-training int8 (INC StaticQuantConfig): s8 weights, inputs
// quantized with a scale and zero point fixed by observing them on the
// calibration batches.
#include "quantizers/int8_common.h"
#include "quantizers/registry.h"

namespace qtune {

namespace {

class StaticQuantizer final : public Quantizer {
 public:
  StaticQuantizer() { schema_.params = int8_param_specs(/*static_activations=*/true); }

  std::string name() const override { return "static"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return true; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData& calibration) const override {
    return static_int8_model(model, config, calibration);
  }

 private:
  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_static_quantizer() {
  return std::make_shared<StaticQuantizer>();
}

}  // namespace qtune
