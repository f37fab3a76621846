// Quantization-aware training: fake-quantized Linear and Conv2d layers
// (straight-through estimator) fine-tuned with autograd on the labelled
// calibration batches, then converted to real quantized kernels.
//
//   target int8: s8 weights (w_granularity) and static inputs (act_sym), as
//                "static" produces; input ranges start from the act_algo
//                observer on the calibration batches, then follow training:
//                ranges=observed moves them by torch's moving average (0.01)
//                each step, ranges=learnable trains [lo, hi] by gradient.
//   target w4, w3, w2: 4/3/2-bit weight-only (group_size, scheme; what RTN makes with
//                the same spec), installed through woq_common.
//
// Weights are always fake-quantized from their own current min/max (the STE
// passes the gradient to the fp32 weight). INC 3.x keeps only MX QAT; int8 and
// int4 QAT here follow torch.ao's FakeQuantize (observed) and LSQ (learnable).
//
// Training: Adam (beta 0.9/0.999, eps 1e-8; written out here so this file
// needs no torch::optim), `steps` minibatches of `batch_size` rows drawn
// without replacement per epoch with `seed`, cross-entropy on
// CalibrationData.labels. Weights and biases of the quantized layers train;
// layers kept fp32 are frozen.
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/error.h"
#include "quantizers/int8_common.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"

namespace qtune {

namespace {

ParamSpec param(const char* name, ParamSpec::Type type, Json def, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = type;
  p.default_value = std::move(def);
  p.help = help;
  return p;
}

/// round forward, identity backward.
at::Tensor round_ste(const at::Tensor& x) { return x + (at::round(x) - x).detach(); }

/// A kernel computing with trainable tensors (training only; never saved).
class TrainingKernel final : public LayerKernel {
 public:
  explicit TrainingKernel(std::function<at::Tensor(const at::Tensor&)> f) : f_(std::move(f)) {}
  at::Tensor forward(const at::Tensor& x) const override { return f_(x); }
  std::string backend() const override { return "qat-training"; }
  std::map<std::string, at::Tensor> tensors() const override { return {}; }
  int64_t storage_bytes() const override { return 0; }

 private:
  std::function<at::Tensor(const at::Tensor&)> f_;
};

/// One layer under training.
struct QatLayer {
  LayerSlot* slot = nullptr;
  Json params;
  QuantSpec weight_spec;
  at::Tensor weight, bias;  ///< trainable copies of the fp32 tensors
  bool act = false;         ///< int8 target: the input is fake-quantized too
  bool act_sym = false;
  bool learnable = false;
  at::Tensor lo, hi;  ///< input range: doubles held as 0-D tensors (trainable when learnable)
};

QuantSpec int8_spec(const Json& p) {
  QuantSpec s;
  s.bits = 8;
  s.scheme = Scheme::kSym;
  s.granularity =
      p.at("w_granularity") == "per_tensor" ? Granularity::kPerTensor : Granularity::kPerChannel;
  return s;
}

/// The weight-only spec of target "wN".
QuantSpec woq_target_spec(const Json& p) {
  const std::string target = p.at("target").get<std::string>();
  Json woq = Json::object();
  woq["bits"] = std::stoi(target.substr(1));
  woq["group_size"] = p.at("group_size");
  woq["scheme"] = p.at("scheme");
  woq["use_full_range"] = false;
  woq["dtype"] = "int";
  return woq_spec(woq);
}

/// Fake-quantized weight whose gradient goes straight to `w`.
at::Tensor fake_weight(const at::Tensor& w, const QuantSpec& spec) {
  const at::Tensor w2 = w.detach().reshape({w.size(0), -1});
  const at::Tensor fq = fake_quantize(w2, spec).view(w.sizes());
  return w + (fq - w.detach());
}

/// Input fake quantization on [lo, hi] with the same codes the int8 kernels use
/// (ActParams of the range); learnable ranges get gradients through the scale.
at::Tensor fake_input(const at::Tensor& x, const QatLayer& l) {
  if (!l.learnable) {
    const ActParams p = act_params_from_range(l.lo.item<double>(), l.hi.item<double>(), l.act_sym);
    return x + (fake_quantize_activation(x.detach(), p) - x.detach());
  }
  // LSQ-style: the range is a parameter; round and the zero point use the STE.
  if (l.act_sym) {
    // s8: one trained magnitude, kept in hi.
    const at::Tensor scale = l.hi.abs().clamp_min(1e-8) / 127.0;
    return at::clamp(round_ste(x / scale), -128, 127) * scale;
  }
  const at::Tensor lo = l.lo.clamp_max(0), hi = l.hi.clamp_min(0);
  const at::Tensor scale = (hi - lo).clamp_min(1e-8) / 255.0;
  const at::Tensor zp = at::clamp(round_ste(-lo / scale), 0, 255);
  return (at::clamp(round_ste(x / scale) + zp, 0, 255) - zp) * scale;
}

at::Tensor run_layer(const LayerSlot& s, const at::Tensor& x, const at::Tensor& w,
                     const at::Tensor& b) {
  // ATen 1.13 takes c10::optional, not std::optional.
  const c10::optional<at::Tensor> bias = b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt;
  if (s.kind() == LayerKind::kLinear) return at::linear(x, w, bias);
  const ConvGeometry& g = s.geometry();
  return at::conv2d(x, w, bias, g.stride, g.padding, g.dilation, g.groups);
}

struct Adam {
  std::vector<at::Tensor> params, m, v;
  double lr;
  int64_t t = 0;
  void step() {
    at::NoGradGuard no_grad;
    ++t;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
    for (size_t i = 0; i < params.size(); ++i) {
      at::Tensor g = params[i].grad();
      if (!g.defined()) continue;
      m[i].mul_(b1).add_(g, 1 - b1);
      v[i].mul_(b2).addcmul_(g, g, 1 - b2);
      params[i].sub_(m[i] / c1 / ((v[i] / c2).sqrt() + eps) * lr);
      g.zero_();
    }
  }
};

class QatQuantizer final : public Quantizer {
 public:
  QatQuantizer() {
    schema_.params = int8_param_specs(/*static_activations=*/true);
    ParamSpec target = param("target", ParamSpec::Type::kString, "int8",
                             "int8: convert to an int8 backend; w4, w3, w2: N-bit weight-only");
    target.allowed = {"int8", "w4", "w3", "w2"};
    schema_.params.push_back(target);
    ParamSpec steps = param("steps", ParamSpec::Type::kInt, 200, "optimizer steps");
    steps.min = 0;
    schema_.params.push_back(steps);
    ParamSpec lr = param("lr", ParamSpec::Type::kFloat, 1e-4, "Adam learning rate");
    lr.min = 0;
    lr.max = 1;
    schema_.params.push_back(lr);
    ParamSpec batch = param("batch_size", ParamSpec::Type::kInt, 64, "rows per step");
    batch.min = 1;
    schema_.params.push_back(batch);
    ParamSpec seed = param("seed", ParamSpec::Type::kInt, 0, "minibatch order");
    seed.min = 0;
    schema_.params.push_back(seed);
    ParamSpec ranges = param("ranges", ParamSpec::Type::kString, "observed",
                             "int8 inputs: observed (moving average) or learnable (by gradient)");
    ranges.allowed = {"observed", "learnable"};
    schema_.params.push_back(ranges);
    ParamSpec group = param("group_size", ParamSpec::Type::kInt, 32,
                            "wN: input columns per scale; -1 = per output channel");
    group.check = [](const Json& v) -> std::string {
      const int64_t g = v.get<int64_t>();
      return g == -1 || g >= 1 ? "" : "group size must be -1 or >= 1";
    };
    schema_.params.push_back(group);
    ParamSpec scheme = param("scheme", ParamSpec::Type::kString, "sym", "wN: sym or asym");
    scheme.allowed = {"sym", "asym"};
    schema_.params.push_back(scheme);
  }

  std::string name() const override { return "qat"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return true; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData& calibration) const override {
    LayerReports reports;
    std::vector<QatLayer> layers;
    for (LayerSlot* slot : model.layers()) {
      LayerReport& r = reports[slot->name()];
      r.name = slot->name();
      r.kind = to_string(slot->kind());
      install_fp32(*slot, &r);
      const std::optional<Json> p = layer_params(config, *slot);
      if (!p) continue;
      check_finite_weight(*slot);
      r.params = *p;
      QatLayer l;
      l.slot = slot;
      l.params = *p;
      const bool int8 = p->at("target") == "int8";
      l.weight_spec = int8 ? int8_spec(*p) : woq_target_spec(*p);
      l.act = int8;
      l.act_sym = p->at("act_sym").get<bool>();
      l.learnable = p->at("ranges") == "learnable";
      layers.push_back(std::move(l));
    }
    if (!layers.empty()) {
      try {
        observe_initial_ranges(model, layers, calibration);
        train(model, layers, calibration);
      } catch (...) {
        // The training kernels point into `layers`, which dies with this frame.
        for (QatLayer& l : layers) install_fp32(*l.slot, nullptr);
        throw;
      }
      convert(layers, config, reports);
    }
    return ordered_reports(model, std::move(reports));
  }

 private:
  /// Input ranges before training, from the act_algo observer on fp32 inputs.
  static void observe_initial_ranges(Model& model, std::vector<QatLayer>& layers,
                                     const CalibrationData& calibration) {
    std::vector<Observer> observers;
    for (const QatLayer& l : layers) observers.emplace_back(int8_observer_options(l.params));
    for (size_t i = 0; i < layers.size(); ++i)
      if (layers[i].act)
        layers[i].slot->set_capture([&obs = observers[i]](const at::Tensor& x) { obs.observe(x); });
    try {
      at::NoGradGuard no_grad;
      for (const at::Tensor& b : calibration.batches) model.forward(b);
    } catch (...) {
      for (QatLayer& l : layers) l.slot->clear_capture();
      throw;
    }
    for (size_t i = 0; i < layers.size(); ++i) {
      QatLayer& l = layers[i];
      l.slot->clear_capture();
      double lo = 0, hi = 0;
      if (l.act) {
        try {
          std::tie(lo, hi) = observers[i].range();
        } catch (const Error& e) {
          throw Error("qat: layer '" + l.slot->name() + "': " + e.what());
        }
      }
      l.lo = at::scalar_tensor(lo, at::kDouble);
      l.hi = at::scalar_tensor(hi, at::kDouble);
    }
  }

  static void train(Model& model, std::vector<QatLayer>& layers,
                    const CalibrationData& calibration) {
    const Json& p = layers.front().params;
    const int64_t steps = p.at("steps").get<int64_t>();
    Adam adam;
    adam.lr = p.at("lr").get<double>();
    for (QatLayer& l : layers) {
      l.weight = l.slot->weight().detach().clone().set_requires_grad(true);
      adam.params.push_back(l.weight);
      if (l.slot->bias()) {
        l.bias = l.slot->bias()->detach().clone().to(at::kFloat).set_requires_grad(true);
        adam.params.push_back(l.bias);
      }
      if (l.act && l.learnable) {
        if (l.act_sym) l.hi = at::maximum(l.hi.abs(), l.lo.abs());
        l.lo = l.lo.to(at::kFloat).set_requires_grad(!l.act_sym);
        l.hi = l.hi.to(at::kFloat).set_requires_grad(true);
        if (!l.act_sym) adam.params.push_back(l.lo);
        adam.params.push_back(l.hi);
      }
      QatLayer* lp = &l;
      l.slot->set_kernel(std::make_shared<TrainingKernel>([lp](const at::Tensor& x) {
        QatLayer& q = *lp;
        at::Tensor in = x;
        if (q.act) {
          if (!q.learnable && at::GradMode::is_enabled()) {
            // torch's FakeQuantize: the observer follows the training inputs.
            const auto mm = at::aminmax(x.detach());
            at::NoGradGuard no_grad;
            q.lo.add_((std::get<0>(mm).to(at::kDouble) - q.lo) * 0.01);
            q.hi.add_((std::get<1>(mm).to(at::kDouble) - q.hi) * 0.01);
          }
          in = fake_input(x, q);
        }
        return run_layer(*q.slot, in, fake_weight(q.weight, q.weight_spec), q.bias);
      }));
    }
    for (auto& t : adam.params) {
      adam.m.push_back(at::zeros_like(t));
      adam.v.push_back(at::zeros_like(t));
    }

    if (steps > 0) {
      QT_CHECK(
          !calibration.labels.empty() && calibration.labels.size() == calibration.batches.size(),
          "qat: fine-tuning needs one label tensor per calibration batch (",
          calibration.batches.size(), " batches), got ", calibration.labels.size(),
          "; language models and unlabelled data can use steps: 0");
      const at::Tensor xs = at::cat(calibration.batches, 0);
      const at::Tensor ys = at::cat(calibration.labels, 0).to(at::kLong);
      QT_CHECK(xs.size(0) == ys.size(0), "qat: ", xs.size(0), " calibration rows but ", ys.size(0),
               " labels");
      const int64_t n = xs.size(0);
      const int64_t batch = std::min<int64_t>(p.at("batch_size").get<int64_t>(), n);
      std::mt19937_64 rng(p.at("seed").get<uint64_t>());
      std::vector<int64_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      int64_t cursor = n;
      at::AutoGradMode grad(true);
      for (int64_t step = 0; step < steps; ++step) {
        if (cursor + batch > n) {
          std::shuffle(order.begin(), order.end(), rng);
          cursor = 0;
        }
        const at::Tensor idx = at::tensor(
            std::vector<int64_t>(order.begin() + cursor, order.begin() + cursor + batch));
        cursor += batch;
        const at::Tensor logits = model.forward(xs.index_select(0, idx));
        QT_CHECK(logits.dim() == 2, "qat: cross-entropy needs logits [N, classes], got shape ",
                 logits.sizes());
        const at::Tensor loss = at::nll_loss(at::log_softmax(logits, 1), ys.index_select(0, idx));
        QT_CHECK(std::isfinite(loss.item<double>()), "qat: the loss became ", loss.item<double>(),
                 " at step ", step, "; lower lr");
        loss.backward();
        adam.step();
      }
    }
    for (QatLayer& l : layers) {
      // The trained tensors become the layer's fp32 weights (saved, and what a
      // later trial on this model would start from).
      std::optional<at::Tensor> bias;
      if (l.bias.defined()) bias = l.bias.detach().clone();
      l.slot->set_weight(l.weight.detach().clone(), bias);
    }
  }

  static void convert(std::vector<QatLayer>& layers, const QuantConfig& config,
                      LayerReports& reports) {
    for (QatLayer& l : layers) {
      LayerReport& r = reports[l.slot->name()];
      LayerSlot& slot = *l.slot;
      if (!l.act) {
        install_quantized(slot, QuantizedWeight::from_float(slot.weight(), l.weight_spec),
                          config.backend, &r);
        continue;
      }
      double lo = l.lo.item<double>(), hi = l.hi.item<double>();
      if (l.act_sym)
        hi = l.learnable ? std::abs(hi) : std::max(std::abs(lo), std::abs(hi)), lo = -hi;
      Int8Layer layer;
      layer.weight = int8_weight(slot.weight(), l.params);
      layer.input =
          static_activation(act_params_from_range(std::min(lo, hi), std::max(lo, hi), l.act_sym));
      layer.bias = slot.bias();
      install_int8(slot, std::move(layer), config.backend, &r);
    }
  }

  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_qat_quantizer() { return std::make_shared<QatQuantizer>(); }

}  // namespace qtune
