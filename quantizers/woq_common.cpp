#include "quantizers/woq_common.h"

#include "backends/backend_list.h"
#include "common/error.h"
#include "models/work_units.h"

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
  p[4].allowed = {"int", "nf4", "fp4", "fp32"};
  p[4].help =
      "int: integer codes; nf4/fp4: 4-bit table codes (INC's NF4 / FP4 tables); "
      "fp32: keep the layer unquantized";
  return p;
}

std::vector<ParamSpec> woq_layout_param_specs() {
  std::vector<ParamSpec> p(5);
  p[0].name = "group_dim";
  p[0].type = ParamSpec::Type::kInt;
  p[0].default_value = 1;
  p[0].allowed = {0, 1};
  p[0].help = "1: groups run along the input channels; 0: along the output channels";

  p[1].name = "use_double_quant";
  p[1].type = ParamSpec::Type::kBool;
  p[1].default_value = false;
  p[1].help = "quantize the scales too (stored quantized, so the saved model shrinks)";

  p[2].name = "double_quant_bits";
  p[2].type = ParamSpec::Type::kInt;
  p[2].default_value = 8;
  p[2].min = 2;
  p[2].max = 8;
  p[2].help = "bits per quantized scale";

  p[3].name = "double_quant_use_sym";
  p[3].type = ParamSpec::Type::kBool;
  p[3].default_value = false;
  p[3].help = "sym (no zero point) or asym quantization of the scales";

  p[4].name = "double_quant_group_size";
  p[4].type = ParamSpec::Type::kInt;
  p[4].default_value = 256;
  p[4].help = "scales sharing one second-level scale; -1 = all of a layer's";
  p[4].check = [](const Json& v) -> std::string {
    const int64_t g = v.get<int64_t>();
    return g == -1 || g >= 1 ? "" : "double quant group size must be -1 or >= 1";
  };
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
  const std::string dtype = params.at("dtype").get<std::string>();
  if (dtype == "nf4" || dtype == "fp4") {
    s.dtype = dtype_from_string(dtype);
    s.bits = 4;
    s.scheme = Scheme::kSym;
    s.full_range = false;
  }
  s.group_dim = params.value("group_dim", 1);
  if (params.value("use_double_quant", false)) {
    s.scale_quant.bits = params.value("double_quant_bits", 8);
    s.scale_quant.scheme =
        params.value("double_quant_use_sym", false) ? Scheme::kSym : Scheme::kAsym;
    s.scale_quant.group_size = params.value("double_quant_group_size", int64_t{256});
  }
  s.validate();
  return s;
}

void check_finite_weight(const LayerSlot& slot) {
  // On the weight as held: a bf16 value is finite exactly when its fp32 widening is.
  QT_CHECK(at::isfinite(slot.resident_weight()).all().item<bool>(), "layer '", slot.name(),
           "': weight has NaN or infinite values; cannot quantize it");
  // The check read every page of a mapped weight; it is read again only when
  // its layer's turn comes.
  slot.release_weight_pages();
}

void install_quantized(LayerSlot& slot, QuantizedWeight w, const std::string& backend,
                       LayerReport* report) {
  std::string reason;
  const Backend& b = choose_backend(backend, slot.kind(), w.spec, &reason);
  slot.set_kernel(b.make_kernel(slot.kind(), std::move(w), slot.bias(), slot.geometry()));
  slot.release_weight_pages();  // the quantized kernel no longer reads it
  if (report) {
    report->quantized = true;
    report->backend = b.name;
    report->backend_reason = reason;
    report->backend_detail = slot.kernel()->backend_detail();
  }
}

void install_fp32(LayerSlot& slot, LayerReport* report) {
  slot.set_kernel(
      make_fp32_kernel(slot.kind(), slot.resident_weight(), slot.bias(), slot.geometry()));
  if (report) {
    report->quantized = false;
    report->backend = "fp32";
    report->backend_reason = backend_reason::kKeptFp32;
    report->backend_detail = slot.kernel()->backend_detail();
  }
}

std::vector<LayerReport> quantize_each_layer(Model& model, const QuantConfig& config,
                                             const QuantizeLayerFn& quantize_layer) {
  // Layers are independent here: one work unit each (models/work_units.h),
  // so the thread count changes no bit of any layer.
  const std::vector<LayerSlot*> slots = model.layers();
  std::vector<LayerReport> reports(slots.size());
  for_each_unit(static_cast<int64_t>(slots.size()), [&](int64_t unit) {
    LayerSlot& slot = *slots[static_cast<size_t>(unit)];
    LayerReport& r = reports[static_cast<size_t>(unit)];
    r.name = slot.name();
    r.kind = to_string(slot.kind());
    if (const std::optional<Json> params = layer_params(config, slot)) {
      check_finite_weight(slot);
      r.params = *params;
      quantize_layer(slot, *params, &r);
    } else {
      install_fp32(slot, &r);
    }
  });
  return reports;
}

}  // namespace qtune
