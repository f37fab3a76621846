// HQQ (INC HQQConfig): data-free int quantization, asym per group, whose zero
// points are optimised for the lp error of the weights (hqq_solver.h). The
// zero points are float and, with quant_zero, stored as 8-bit codes (per
// tensor); with quant_scale the scales are stored as 8-bit codes too.
#include "common/error.h"
#include "quantizers/hqq_solver.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"

namespace qtune {

namespace {

ParamSpec make(const char* name, ParamSpec::Type type, Json value, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = type;
  p.default_value = std::move(value);
  p.help = help;
  return p;
}

class HqqQuantizer final : public Quantizer {
 public:
  HqqQuantizer() {
    using T = ParamSpec::Type;
    ParamSpec bits = make("bits", T::kInt, 4, "bits per weight");
    bits.min = 1;
    bits.max = 8;
    ParamSpec group = make("group_size", T::kInt, 64,
                           "input columns per scale and zero point; -1 = one per output channel");
    group.check = [](const Json& v) -> std::string {
      const int64_t g = v.get<int64_t>();
      return g == -1 || g >= 1 ? "" : "group size must be -1 or >= 1";
    };
    ParamSpec dtype = make("dtype", T::kString, "int", "int; fp32 keeps the layer unquantized");
    dtype.allowed = {"int", "fp32"};
    ParamSpec sgroup = make("scale_quant_group_size", T::kInt, 128,
                            "scales per 8-bit scale group when quant_scale is on");
    sgroup.min = 1;
    ParamSpec lp = make("lp_norm", T::kFloat, 0.7, "p of the lp error minimised (0 < p <= 1)");
    lp.min = 0.01;
    lp.max = 1.0;
    ParamSpec beta = make("beta", T::kFloat, 10.0, "initial half-quadratic penalty");
    beta.min = 1e-6;
    ParamSpec kappa = make("kappa", T::kFloat, 1.01, "growth of beta per iteration");
    kappa.min = 1.0;
    ParamSpec iters = make("iters", T::kInt, 20, "optimisation iterations");
    iters.min = 0;
    iters.max = 10000;
    schema_.params = {bits,
                      group,
                      dtype,
                      make("quant_zero", T::kBool, true, "store zero points as 8-bit codes"),
                      make("quant_scale", T::kBool, false, "store scales as 8-bit codes"),
                      sgroup,
                      lp,
                      beta,
                      kappa,
                      iters};
  }

  std::string name() const override { return "hqq"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return false; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData&) const override {
    return quantize_each_layer(model, config, [&](LayerSlot& slot, const Json& p, LayerReport* r) {
      QuantSpec spec;
      spec.bits = p.at("bits").get<int>();
      spec.scheme = Scheme::kAsym;
      spec.float_zero = true;
      const int64_t g = p.at("group_size").get<int64_t>();
      spec.granularity = g == -1 ? Granularity::kPerChannel : Granularity::kPerGroup;
      spec.group_size = g == -1 ? 64 : g;
      if (p.at("quant_zero").get<bool>()) spec.zero_quant = ParamQuant{8, Scheme::kAsym, -1};
      if (p.at("quant_scale").get<bool>())
        spec.scale_quant =
            ParamQuant{8, Scheme::kAsym, p.at("scale_quant_group_size").get<int64_t>()};
      HqqOptions opt;
      opt.lp_norm = p.at("lp_norm").get<double>();
      opt.beta = p.at("beta").get<double>();
      opt.kappa = p.at("kappa").get<double>();
      opt.iters = p.at("iters").get<int>();
      install_quantized(slot, hqq_quantize(slot.weight(), spec, opt), config.backend, r);
    });
  }

 private:
  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_hqq_quantizer() { return std::make_shared<HqqQuantizer>(); }

}  // namespace qtune
