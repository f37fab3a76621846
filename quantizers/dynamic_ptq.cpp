// Dynamic post-training int8 (INC DynamicQuantConfig): s8 weights; each
// input is quantized with its own batch's range at run time, so nothing is
// calibrated. Weights default to per channel (the choice; INC's PT2E
// path defaults to per tensor, selectable with w_granularity).
#include "common/error.h"
#include "quantizers/int8_common.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"

namespace qtune {

namespace {

class DynamicQuantizer final : public Quantizer {
 public:
  DynamicQuantizer() { schema_.params = int8_param_specs(/*static_activations=*/false); }

  std::string name() const override { return "dynamic"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return false; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData&) const override {
    return quantize_each_layer(model, config,
                               [&](LayerSlot& slot, const Json& params, LayerReport* r) {
                                 Int8Layer layer;
                                 layer.weight = int8_weight(slot.weight(), params);
                                 layer.input.dynamic = true;
                                 layer.input.is_signed = params.at("act_sym").get<bool>();
                                 layer.bias = slot.bias();
                                 install_int8(slot, std::move(layer), config.backend, r);
                               });
  }

 private:
  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_dynamic_quantizer() {
  return std::make_shared<DynamicQuantizer>();
}

}  // namespace qtune
