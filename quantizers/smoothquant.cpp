// SmoothQuant (INC SmoothQuantConfig): per input channel j of each group of
// layers sharing an input, s_j = max|X_j|^alpha / max|W_j|^(1-alpha) moves
// activation outliers into the weights (W * s, X / s), then static int8.
//
// Folding (INC's `folding`): a group whose producer is a layer or a tensor the
// model can scale absorbs X / s there, exactly and for free, whatever the flag.
// A group with no producer (""): folding=false (INC's default) inserts a
// per-channel multiplier before the layer, as INC's SQLinearWrapper does;
// folding=true leaves such groups unsmoothed, as INC smooths only absorbable
// layers then.
//
// alpha: fixed (0.5), or auto_alpha=true (INC's alpha="auto"; the schema types
// each field once): per group, alpha_min..alpha_max by alpha_step, keeping the
// alpha whose int8 result (weights s8, input through the configured observer)
// has the smallest squared output error against fp32 on the calibration inputs.
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "quantizers/int8_common.h"
#include "quantizers/registry.h"

namespace qtune {

namespace {

ParamSpec float_param(const char* name, double def, double lo, double hi, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = ParamSpec::Type::kFloat;
  p.default_value = def;
  p.min = lo;
  p.max = hi;
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

/// `v` [C] shaped to broadcast over the channel dim of a layer's input.
at::Tensor per_input_channel(const at::Tensor& v, LayerKind kind) {
  return kind == LayerKind::kLinear ? v : v.view({1, -1, 1, 1});
}

/// max |x| per input channel (last dim for Linear, dim 1 for Conv2d).
at::Tensor channel_absmax(const at::Tensor& x, LayerKind kind) {
  const at::Tensor a = x.abs();
  if (kind == LayerKind::kConv2d) return a.amax({0, 2, 3});
  return a.reshape({-1, a.size(-1)}).amax(0);
}

/// max |W| per input channel: over output rows (and kernel taps).
at::Tensor weight_channel_absmax(const LayerSlot& s) {
  const at::Tensor a = s.weight().abs();
  return s.kind() == LayerKind::kConv2d ? a.amax({0, 2, 3}) : a.amax(0);
}

at::Tensor run_layer(const LayerSlot& s, const at::Tensor& x, const at::Tensor& w) {
  // ATen 1.13 takes c10::optional, not std::optional.
  const c10::optional<at::Tensor> b =
      s.bias() ? c10::optional<at::Tensor>(*s.bias()) : c10::nullopt;
  if (s.kind() == LayerKind::kLinear) return at::linear(x, w, b);
  const ConvGeometry& g = s.geometry();
  return at::conv2d(x, w, b, g.stride, g.padding, g.dilation, g.groups);
}

/// INC's cal_scale: channels the data never excites (or with zero weights)
/// keep scale 1: dividing a producer by a clipped 1e-5 would blow up what the
/// calibration set did not see.
at::Tensor smooth_scales(const at::Tensor& xmax, const at::Tensor& wmax, double alpha) {
  const at::Tensor s = (xmax.pow(alpha) / wmax.pow(1.0 - alpha)).clamp_min(1e-5);
  return at::where((xmax > 0) & (wmax > 0), s, at::ones_like(s));
}

struct GroupData {
  InputScaleGroup group;
  std::vector<LayerSlot*> slots;  ///< the group's layers
  const std::vector<at::Tensor>* inputs = nullptr;
  Json params;  ///< of the group's first quantized layer
};

/// Squared output error of the group's int8 result for scales `s`.
double group_error(const GroupData& g, const at::Tensor& s) {
  double err = 0;
  for (LayerSlot* slot : g.slots) {
    const Json& p = g.params;
    // Columns (Linear) or input channels (Conv2d) of the weight grow by s.
    const at::Tensor w =
        slot->weight() *
        (slot->kind() == LayerKind::kLinear ? s.view({1, -1}) : s.view({1, -1, 1, 1}));
    const at::Tensor wq = int8_weight(w, p).dequantize();
    const at::Tensor inv = per_input_channel(s.reciprocal(), slot->kind());
    Observer obs(int8_observer_options(p));
    for (const at::Tensor& x : *g.inputs) obs.observe(x * inv);
    const ActParams ap = obs.params();
    for (const at::Tensor& x : *g.inputs) {
      const at::Tensor ref = run_layer(*slot, x, slot->weight());
      const at::Tensor got = run_layer(*slot, fake_quantize_activation(x * inv, ap), wq);
      err += (got - ref).pow(2).sum().item<double>();
    }
  }
  return err;
}

class SmoothQuantizer final : public Quantizer {
 public:
  SmoothQuantizer() {
    schema_.params = int8_param_specs(/*static_activations=*/true);
    schema_.params.push_back(
        float_param("alpha", 0.5, 0.0, 1.0, "migration strength: s = max|X|^a / max|W|^(1-a)"));
    schema_.params.push_back(bool_param(
        "auto_alpha", false, "search alpha per group on the int8 output error (INC alpha=auto)"));
    schema_.params.push_back(float_param("alpha_min", 0.0, 0.0, 1.0, "auto_alpha: grid start"));
    schema_.params.push_back(float_param("alpha_max", 1.0, 0.0, 1.0, "auto_alpha: grid end"));
    schema_.params.push_back(float_param("alpha_step", 0.1, 0.01, 1.0, "auto_alpha: grid step"));
    schema_.params.push_back(bool_param(
        "folding", false,
        "true: smooth only groups a preceding op absorbs; false: insert multipliers elsewhere"));
  }

  std::string name() const override { return "smoothquant"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return true; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData& calibration) const override {
    std::map<std::string, double> chosen_alpha;
    auto smooth_block = [&](int64_t block, const BlockInputs& inputs) {
      smooth(model, config, block, inputs, &chosen_alpha);
    };
    std::vector<LayerReport> reports = static_int8_model(model, config, calibration, smooth_block);
    for (LayerReport& r : reports) {
      auto it = chosen_alpha.find(r.name);
      if (it != chosen_alpha.end() && r.quantized) r.params["smoothquant_alpha"] = it->second;
    }
    return reports;
  }

 private:
  void smooth(Model& model, const QuantConfig& config, int64_t block, const BlockInputs& inputs,
              std::map<std::string, double>* chosen_alpha) const {
    std::vector<GroupData> groups;
    std::vector<std::string> capture;
    for (const InputScaleGroup& g : model.input_scale_groups(block)) {
      GroupData d;
      d.group = g;
      bool grouped_conv = false;
      for (const std::string& name : g.layers) {
        LayerSlot& slot = model.layer(name);
        d.slots.push_back(&slot);
        grouped_conv =
            grouped_conv || (slot.kind() == LayerKind::kConv2d && slot.geometry().groups != 1);
        if (d.params.is_null())
          if (std::optional<Json> p = layer_params(config, slot)) d.params = *p;
      }
      if (d.params.is_null() || grouped_conv) continue;  // nothing int8 to help
      if (g.producer.empty() && d.params.at("folding").get<bool>()) continue;
      capture.push_back(g.layers.front());
      groups.push_back(std::move(d));
    }
    if (groups.empty()) return;
    // Captured before any folding: a group's input changes only when that group is folded.
    const auto captured = capture_layer_inputs(model, block, inputs, capture);
    at::NoGradGuard no_grad;
    for (GroupData& g : groups) {
      g.inputs = &captured.at(g.group.layers.front());
      const LayerKind kind = g.slots.front()->kind();
      at::Tensor xmax;
      for (const at::Tensor& x : *g.inputs) {
        const at::Tensor m = channel_absmax(x, kind);
        xmax = xmax.defined() ? at::maximum(xmax, m) : m;
      }
      at::Tensor wmax = weight_channel_absmax(*g.slots.front());
      for (LayerSlot* s : g.slots) wmax = at::maximum(wmax, weight_channel_absmax(*s));
      QT_CHECK(xmax.defined() && xmax.size(0) == wmax.size(0), "smoothquant: layer '",
               g.group.layers.front(), "': captured input has ", xmax.defined() ? xmax.size(0) : 0,
               " channels, weights expect ", wmax.size(0));

      double alpha = g.params.at("alpha").get<double>();
      if (g.params.at("auto_alpha").get<bool>()) {
        const double lo = g.params.at("alpha_min").get<double>();
        const double hi = g.params.at("alpha_max").get<double>();
        const double step = g.params.at("alpha_step").get<double>();
        QT_CHECK(lo <= hi, "smoothquant: alpha_min (", lo, ") must be <= alpha_max (", hi, ")");
        double best = std::numeric_limits<double>::infinity();
        // Integer steps: repeated += 0.1 would miss alpha_max by rounding.
        const int64_t n = static_cast<int64_t>(std::floor((hi - lo) / step + 1e-9));
        for (int64_t i = 0; i <= n; ++i) {
          const double a = std::min(hi, lo + i * step);
          const double e = group_error(g, smooth_scales(xmax, wmax, a));
          if (e < best) best = e, alpha = a;
        }
      }
      for (const std::string& name : g.group.layers) (*chosen_alpha)[name] = alpha;
      model.fold_input_scales(g.group, smooth_scales(xmax, wmax, alpha));
    }
  }

  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_smoothquant_quantizer() {
  return std::make_shared<SmoothQuantizer>();
}

}  // namespace qtune
