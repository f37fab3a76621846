// RTN: round-to-nearest weight-only quantization, data-free (INC RTNConfig).
#include "common/error.h"
#include "quant/clip_search.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"

namespace qtune {

namespace {

class RtnQuantizer final : public Quantizer {
 public:
  RtnQuantizer() {
    schema_.params = woq_param_specs();
    ParamSpec mse;
    mse.name = "use_mse_search";
    mse.type = ParamSpec::Type::kBool;
    mse.default_value = false;
    mse.help = "search the clip ratio (1.0 .. 0.805) that minimizes the weight MSE";
    schema_.params.push_back(mse);
    for (ParamSpec& p : woq_layout_param_specs()) schema_.params.push_back(std::move(p));
  }

  std::string name() const override { return "rtn"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return false; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData& calibration) const override {
    return quantize_each_layer(
        model, config, [&](LayerSlot& slot, const Json& params, LayerReport* r) {
          // Always from the original fp32 weight, never from a previous trial's kernel.
          const at::Tensor& w = slot.weight();
          QuantSpec spec = woq_spec(params);
          if (params.at("use_mse_search").get<bool>()) spec.clip_ratio = search_clip_ratio(w, spec);
          install_quantized(slot, QuantizedWeight::from_float(w, spec), config.backend, r);
        });
  }

 private:
  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_rtn_quantizer() { return std::make_shared<RtnQuantizer>(); }

}  // namespace qtune
