#include "quantizers/int8_common.h"

#include <ATen/core/grad_mode.h>

#include "backends/backend_list.h"
#include "common/error.h"
#include "quantizers/woq_common.h"

namespace qtune {

namespace {

ParamSpec string_param(const char* name, const char* def, std::vector<Json> allowed,
                       const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = ParamSpec::Type::kString;
  p.default_value = def;
  p.allowed = std::move(allowed);
  p.help = help;
  return p;
}

ParamSpec bool_param(const char* name, bool def, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = ParamSpec::Type::kBool;
  p.default_value = def;
  p.help = help;
  return p;
}

/// Clears capture hooks however the scope ends (an observer may throw).
class Captures {
 public:
  ~Captures() {
    for (LayerSlot* s : slots_) s->clear_capture();
  }
  void set(LayerSlot* s, LayerSlot::Capture c) {
    s->set_capture(std::move(c));
    slots_.push_back(s);
  }

 private:
  std::vector<LayerSlot*> slots_;
};

/// Installs every observed layer as int8 with the parameters its observer chose.
void install_observed(std::vector<LayerSlot*>& slots, std::map<std::string, Observer>& observers,
                      const std::map<std::string, Json>& params, const QuantConfig& config,
                      LayerReports& reports) {
  for (LayerSlot* slot : slots) {
    auto it = observers.find(slot->name());
    if (it == observers.end()) continue;
    LayerReport& r = reports[slot->name()];
    Int8Layer layer;
    layer.weight = int8_weight(slot->weight(), params.at(slot->name()));
    try {
      layer.input = static_activation(it->second.params());
    } catch (const Error& e) {
      throw Error("layer '" + slot->name() + "': " + e.what());
    }
    layer.bias = slot->bias();
    install_int8(*slot, std::move(layer), config.backend, &r);
  }
}

}  // namespace

std::vector<ParamSpec> int8_param_specs(bool static_activations) {
  std::vector<ParamSpec> p;
  p.push_back(string_param("dtype", "int8", {"int8", "fp32"},
                           "int8: quantize the layer; fp32: keep it unquantized"));
  p.push_back(string_param("w_granularity", "per_channel", {"per_channel", "per_tensor"},
                           "one weight scale per output channel or one for the tensor"));
  ParamSpec w_sym = bool_param("w_sym", true, "weights are s8 symmetric (the int8 kernels' form)");
  w_sym.allowed = {true};
  p.push_back(w_sym);
  p.push_back(bool_param("act_sym", false,
                         "inputs s8 symmetric (true) or u8 asymmetric with a zero point (false)"));
  if (!static_activations) return p;
  std::vector<Json> algos;
  for (const std::string& n : observer_kind_names()) algos.push_back(n);
  p.push_back(string_param("act_algo", "minmax", algos,
                           "how calibration picks each input's range: minmax, moving_average "
                           "(torch's 0.01), percentile, kl (TensorRT entropy), mse"));
  ParamSpec pct;
  pct.name = "percentile";
  pct.type = ParamSpec::Type::kFloat;
  pct.default_value = 99.999;
  pct.min = 50.0;
  pct.max = 100.0;
  pct.help = "act_algo percentile: the share of values kept inside the range";
  p.push_back(pct);
  return p;
}

QuantizedWeight int8_weight(const at::Tensor& w, const Json& params) {
  QuantSpec s;
  s.bits = 8;
  s.scheme = Scheme::kSym;
  s.granularity = params.at("w_granularity") == "per_tensor" ? Granularity::kPerTensor
                                                             : Granularity::kPerChannel;
  return QuantizedWeight::from_float(w.detach(), s);
}

ObserverOptions int8_observer_options(const Json& params) {
  ObserverOptions o;
  o.kind = observer_kind_from_string(params.at("act_algo").get<std::string>());
  o.sym = params.at("act_sym").get<bool>();
  o.percentile = params.at("percentile").get<double>();
  return o;
}

ActivationQuant static_activation(const ActParams& p) {
  ActivationQuant a;
  a.dynamic = false;
  a.is_signed = p.is_signed;
  a.scale = p.scale;
  a.zero_point = p.zero_point;
  return a;
}

void install_int8(LayerSlot& slot, Int8Layer layer, const std::string& backend,
                  LayerReport* report) {
  std::string reason;
  const Backend& b = choose_backend(backend, slot.kind(), layer, &reason);
  slot.set_kernel(b.make_kernel(slot.kind(), std::move(layer), slot.geometry()));
  slot.release_weight_pages();  // the int8 kernel no longer reads it
  if (report) {
    report->quantized = true;
    report->backend = b.name;
    report->backend_reason = reason;
    report->backend_detail = slot.kernel()->backend_detail();
  }
}

std::vector<LayerReport> ordered_reports(Model& model, LayerReports reports) {
  std::vector<LayerReport> out;
  for (LayerSlot* slot : model.layers()) {
    auto it = reports.find(slot->name());
    QT_ASSERT(it != reports.end(), "no report for layer ", slot->name());
    out.push_back(std::move(it->second));
  }
  return out;
}

std::vector<LayerReport> static_int8_model(
    Model& model, const QuantConfig& config, const CalibrationData& calibration,
    const std::function<void(int64_t block, const BlockInputs& inputs)>& prepare) {
  LayerReports reports;
  std::map<std::string, Json> params;
  // Every layer starts from its fp32 kernel: a layer quantized by an earlier
  // trial on a shared model must not feed its int8 output to the observers.
  for (LayerSlot* slot : model.layers()) {
    LayerReport& r = reports[slot->name()];
    r.name = slot->name();
    r.kind = to_string(slot->kind());
    const std::optional<Json> p = layer_params(config, *slot);
    install_fp32(*slot, &r);
    if (!p) continue;
    check_finite_weight(*slot);
    r.params = *p;
    params[slot->name()] = *p;
  }

  std::map<std::string, bool> in_block;
  for_each_block(model, calibration, [&](int64_t block, const BlockInputs& inputs) {
    if (prepare) prepare(block, inputs);
    std::vector<LayerSlot*> slots = model.block_layers(block);
    std::map<std::string, Observer> observers;
    {
      Captures captures;
      for (LayerSlot* slot : slots) {
        in_block[slot->name()] = true;
        if (!params.count(slot->name())) continue;
        Observer& obs =
            observers.emplace(slot->name(), Observer(int8_observer_options(params[slot->name()])))
                .first->second;
        captures.set(slot, [&obs](const at::Tensor& x) { obs.observe(x); });
      }
      if (observers.empty()) return;
      run_block(model, block, inputs);
    }
    install_observed(slots, observers, params, config, reports);
  });

  // Layers outside every block see what the quantized blocks produce.
  std::vector<LayerSlot*> rest;
  std::map<std::string, Observer> observers;
  {
    Captures captures;
    for (LayerSlot* slot : model.layers()) {
      if (in_block.count(slot->name()) || !params.count(slot->name())) continue;
      rest.push_back(slot);
      Observer& obs =
          observers.emplace(slot->name(), Observer(int8_observer_options(params[slot->name()])))
              .first->second;
      captures.set(slot, [&obs](const at::Tensor& x) { obs.observe(x); });
    }
    if (!observers.empty()) {
      at::NoGradGuard no_grad;
      for (const at::Tensor& b : calibration.batches) model.forward(b);
    }
  }
  install_observed(rest, observers, params, config, reports);
  return ordered_reports(model, std::move(reports));
}

}  // namespace qtune
