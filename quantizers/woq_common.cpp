#include "quantizers/woq_common.h"

#include "backends/backend.h"
#include "common/error.h"

namespace qtune {

std::vector<ParamSpec> woq_param_specs() {
  std::vector<ParamSpec> p(5);
  p[0].name = "bits";
  p[0].type = ParamSpec::Type::kInt;
  p[0].default_value = 4;
  p[0].min = 1;
  p[0].max = 8;
  p[0].help = "bits per weight";

  p[1].name = "group_size";
  p[1].type = ParamSpec::Type::kInt;
  p[1].default_value = 32;
  p[1].help = "input columns per scale; -1 = one scale per output channel";
  p[1].check = [](const Json& v) -> std::string {
    const int64_t g = v.get<int64_t>();
    return g == -1 || g >= 1 ? "" : "group size must be -1 or >= 1";
  };

  p[2].name = "scheme";
  p[2].type = ParamSpec::Type::kString;
  p[2].default_value = "sym";
  p[2].allowed = {"sym", "asym"};
  p[2].help = "sym: no zero point; asym: a zero point per group";

  p[3].name = "use_full_range";
  p[3].type = ParamSpec::Type::kBool;
  p[3].default_value = false;
  p[3].help = "sym only: use code -2^(b-1) too (scale = absmax / 2^(b-1))";

  p[4].name = "dtype";
  p[4].type = ParamSpec::Type::kString;
  p[4].default_value = "int";
  p[4].allowed = {"int", "fp32"};
  p[4].help = "int: integer codes; fp32: keep the layer unquantized";
  return p;
}

QuantSpec woq_spec(const Json& params) {
  QuantSpec s;
  s.bits = params.at("bits").get<int>();
  const int64_t g = params.at("group_size").get<int64_t>();
  s.granularity = g == -1 ? Granularity::kPerChannel : Granularity::kPerGroup;
  s.group_size = g == -1 ? 32 : g;
  s.scheme = scheme_from_string(params.at("scheme").get<std::string>());
  s.full_range = params.at("use_full_range").get<bool>() && s.scheme == Scheme::kSym;
  s.validate();
  return s;
}

void check_finite_weight(const LayerSlot& slot) {
  QT_CHECK(at::isfinite(slot.weight()).all().item<bool>(), "layer '", slot.name(),
           "': weight has NaN or infinite values; cannot quantize it");
}

void install_quantized(LayerSlot& slot, QuantizedWeight w, const std::string& backend,
                       LayerReport* report) {
  std::string reason;
  const Backend& b = choose_backend(backend, slot.kind(), w.spec, &reason);
  slot.set_kernel(b.make_kernel(slot.kind(), std::move(w), slot.bias(), slot.geometry()));
  if (report) {
    report->quantized = true;
    report->backend = b.name;
    report->backend_reason = reason;
  }
}

void install_fp32(LayerSlot& slot, LayerReport* report) {
  slot.set_kernel(make_fp32_kernel(slot.kind(), slot.weight(), slot.bias(), slot.geometry()));
  if (report) {
    report->quantized = false;
    report->backend = "fp32";
    report->backend_reason = "kept fp32 by config";
  }
}

}  // namespace qtune
