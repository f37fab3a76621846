// AutoRound (SignRound): learned rounding and clipping, block by block (INC
// AutoRoundConfig, which wraps intel/auto-round; Cheng et al., arXiv 2309.05516).
//
// Every quantized layer of a block gets a rounding offset V in [-0.5, 0.5] per
// weight and min/max clip factors (alpha, beta) in [0.5, 1] per group:
//   asym: lo = min(w,0)*alpha, hi = max(w,0)*beta, scale = (hi-lo)/qmax, zero = round(-lo/scale)
//   sym:  amax = max(max(w,0)*beta, -min(w,0)*alpha), scale = amax/qmax
//   q = clamp(round(w/scale + V) + zero), w' = (q - zero) * scale
// With V = 0 and alpha = beta = 1 this is exactly RTN (quant/quantize.h).
// Signed gradient descent (lr decaying linearly to 0) fits them to the fp32
// block output; the iterate with the lowest batch loss is kept, unless the
// start (RTN) has a lower loss over all samples.
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "quant/quantized_weight.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"
#include "quantizers/woq_train.h"

namespace qtune {

namespace {

ParamSpec param(const char* name, ParamSpec::Type type, Json def, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = type;
  p.default_value = std::move(def);
  p.help = help;
  if (type == ParamSpec::Type::kInt || type == ParamSpec::Type::kFloat) p.min = 0;
  return p;
}

/// One layer's learnable rounding: its fixed grouped weight and the trainables.
class RoundingState {
 public:
  RoundingState(const LayerSlot& slot, const QuantSpec& spec) : spec_(spec) {
    shape_ = slot.weight().sizes().vec();
    const at::Tensor w = slot.weight().detach().reshape({shape_[0], -1}).to(at::kFloat);
    cols_ = w.size(1);
    const int64_t g = spec.effective_group_size(cols_);
    const int64_t n_groups = spec.groups_per_row(cols_);
    const double inf = std::numeric_limits<double>::infinity();
    auto grouped = [&](double pad) {
      return at::constant_pad_nd(w, {0, n_groups * g - cols_}, pad)
          .reshape({w.size(0), n_groups, g});
    };
    wg_ = grouped(0.0);
    // Pads of -inf/+inf keep a partial group's max/min its own, as in core.
    mx_ = std::get<0>(grouped(-inf).max(-1));
    mn_ = std::get<0>(grouped(inf).min(-1));
    v_ = at::zeros_like(wg_).requires_grad_(true);
    alpha_ = at::ones_like(mx_).requires_grad_(true);
    beta_ = at::ones_like(mx_).requires_grad_(true);
  }

  at::Tensor& v() { return v_; }
  at::Tensor& alpha() { return alpha_; }
  at::Tensor& beta() { return beta_; }

  /// Scale and zero point [rows, groups] (differentiable in alpha, beta).
  std::pair<at::Tensor, at::Tensor> params() const {
    if (spec_.scheme == Scheme::kSym) {
      const at::Tensor hi = at::clamp_min(mx_, 0) * beta_;
      const at::Tensor lo_abs = -(at::clamp_max(mn_, 0) * alpha_);
      const at::Tensor amax = at::maximum(hi, lo_abs);
      at::Tensor scale;
      if (spec_.full_range || spec_.bits == 1) {
        // The larger-magnitude extreme maps to qmin, as in core (negative scale when it is max).
        scale = amax / static_cast<double>(-spec_.qmin());
        scale = at::where((hi > 0) & (hi >= lo_abs), -scale, scale);
      } else {
        scale = amax / static_cast<double>(spec_.qmax());
      }
      scale = at::where(amax == 0, at::ones_like(scale), scale);
      return {scale, at::zeros_like(scale)};
    }
    const at::Tensor lo = at::clamp_max(mn_, 0) * alpha_;
    const at::Tensor hi = at::clamp_min(mx_, 0) * beta_;
    const at::Tensor range = hi - lo;
    const at::Tensor scale =
        at::where(range == 0, at::ones_like(range), range / static_cast<double>(spec_.qmax()));
    const at::Tensor zero = at::clamp(round_ste(-lo / scale), 0, spec_.qmax());
    return {scale, zero};
  }

  /// Codes as floats [rows, groups, g], differentiable through the STE.
  at::Tensor codes(const at::Tensor& scale, const at::Tensor& zero) const {
    const at::Tensor q = round_ste(wg_ / scale.unsqueeze(-1) + v_) + zero.unsqueeze(-1);
    return at::clamp(q, static_cast<double>(spec_.qmin()), static_cast<double>(spec_.qmax()));
  }

  /// The fake-quantized weight in the layer's shape (training forward).
  at::Tensor fake_quantized() const {
    const auto [scale, zero] = params();
    const at::Tensor w = (codes(scale, zero) - zero.unsqueeze(-1)) * scale.unsqueeze(-1);
    return w.reshape({shape_[0], -1}).narrow(1, 0, cols_).reshape(shape_);
  }

  /// The stored quantization with the current trainables.
  QuantizedWeight quantized() const {
    at::NoGradGuard no_grad;
    const auto [scale, zero] = params();
    const at::Tensor q = codes(scale, zero).reshape({shape_[0], -1}).narrow(1, 0, cols_);
    const QuantParams p{scale.contiguous(), zero.to(at::kInt).contiguous()};
    return QuantizedWeight::from_codes(q.to(at::kInt), p, spec_, shape_);
  }

 private:
  QuantSpec spec_;
  std::vector<int64_t> shape_;
  int64_t cols_ = 0;
  at::Tensor wg_, mx_, mn_, v_, alpha_, beta_;
};

class AutoRoundQuantizer final : public Quantizer {
 public:
  AutoRoundQuantizer() {
    schema_.params = woq_param_specs();
    // INC's AutoRound default scheme W4A16 is int4 sym with groups of 128.
    for (ParamSpec& p : schema_.params)
      if (p.name == "group_size") p.default_value = 128;
    using T = ParamSpec::Type;
    schema_.params.push_back(param("iters", T::kInt, 200, "signed-gradient steps per block"));
    schema_.params.push_back(param("lr", T::kFloat, 0.0,
                                   "step size of V; 0 = 1/iters (2/iters for iters >= 1000 and "
                                   "bits <= 3)"));
    schema_.params.push_back(param("minmax_lr", T::kFloat, 0.0, "step size of alpha/beta; 0 = lr"));
    schema_.params.push_back(param("nsamples", T::kInt, 128, "calibration samples (the first n)"));
    schema_.params.push_back(
        param("seqlen", T::kInt, 2048, "tokens per calibration window (longer windows are cut)"));
    schema_.params.push_back(param("batch_size", T::kInt, 8, "samples per step"));
    schema_.params.push_back(param("seed", T::kInt, 42, "seed of the batch sampling"));
    schema_.params.push_back(
        param("enable_minmax_tuning", T::kBool, true, "learn the clip factors alpha/beta too"));
    schema_.params.push_back(
        param("enable_quanted_input", T::kBool, true,
              "train each block on the quantized output of the blocks before"));
    schema_.params.push_back(param("not_use_best_mse", T::kBool, false,
                                   "keep the last iterate instead of the best one"));
    for (ParamSpec& p : schema_.params)
      if (p.name == "batch_size" || p.name == "nsamples" || p.name == "seqlen") p.min = 1;
  }

  std::string name() const override { return "autoround"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return true; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData& calibration) const override {
    LayerPlan plan = plan_layers(model, config);
    for (const auto& [name, p] : plan.params)
      QT_CHECK(p.at("dtype") == "int", "autoround: layer '", name, "': dtype must be int, got ",
               p.at("dtype").dump());
    const Json& global = config.params;
    std::mt19937_64 rng(global.at("seed").get<uint64_t>());
    for_each_block_with_targets(
        model, truncate_tokens(calibration, global.at("seqlen").get<int64_t>()),
        global.at("enable_quanted_input").get<bool>(),
        [&](int64_t block, const BlockInputs& inputs, const BlockInputs& targets) {
          std::vector<LayerSlot*> layers;
          for (LayerSlot* s : model.block_layers(block))
            if (plan.quantized(s->name())) layers.push_back(s);
          if (layers.empty()) return;
          std::vector<std::unique_ptr<RoundingState>> states;
          for (LayerSlot* s : layers)
            states.push_back(
                std::make_unique<RoundingState>(*s, woq_spec(plan.params.at(s->name()))));
          for (size_t i = 0; i < layers.size(); ++i) {
            const RoundingState* st = states[i].get();
            LayerSlot* slot = layers[i];
            slot->set_kernel(make_function_kernel([slot, st](const at::Tensor& x) {
              return run_layer_with(*slot, x, st->fake_quantized());
            }));
          }
          train(model, block, BlockSamples(inputs, targets, global.at("nsamples").get<int64_t>()),
                states, global, rng);
          for (size_t i = 0; i < layers.size(); ++i) {
            const std::string& n = layers[i]->name();
            install_quantized(*layers[i], states[i]->quantized(), config.backend,
                              &plan.reports.at(n));
          }
        });
    quantize_unvisited(model, plan, config.backend);
    return plan.ordered(model);
  }

 private:
  static void train(const Model& model, int64_t block, const BlockSamples& samples,
                    std::vector<std::unique_ptr<RoundingState>>& states, const Json& params,
                    std::mt19937_64& rng) {
    const int64_t iters = params.at("iters").get<int64_t>();
    if (iters == 0) return;
    const int bits = params.at("bits").get<int>();
    double lr = params.at("lr").get<double>();
    if (lr == 0) lr = (iters >= 1000 && bits <= 3 ? 2.0 : 1.0) / static_cast<double>(iters);
    double minmax_lr = params.at("minmax_lr").get<double>();
    if (minmax_lr == 0) minmax_lr = lr;
    const bool minmax = params.at("enable_minmax_tuning").get<bool>();
    const bool use_best = !params.at("not_use_best_mse").get<bool>();
    const int64_t batch = params.at("batch_size").get<int64_t>();

    std::vector<at::Tensor> best;
    auto snapshot = [&states]() {
      std::vector<at::Tensor> s;
      for (auto& st : states) {
        s.push_back(st->v().detach().clone());
        s.push_back(st->alpha().detach().clone());
        s.push_back(st->beta().detach().clone());
      }
      return s;
    };
    double best_loss = std::numeric_limits<double>::infinity();
    // The start (V = 0, alpha = beta = 1) is RTN; its loss over all samples is
    // what the kept iterate must not exceed.
    const double start_loss = use_best ? block_loss(model, block, samples) : 0.0;
    at::AutoGradMode grad(true);
    for (int64_t it = 0; it < iters; ++it) {
      auto [x, y] = samples.draw(batch, rng);
      const at::Tensor loss = (model.run_block(block, x) - y).pow(2).mean();
      const double l = loss.item<double>();
      QT_CHECK(std::isfinite(l), "autoround: block ", block, ": the loss is not finite at step ",
               it);
      // The loss belongs to the parameters before this step's update.
      if (use_best && l < best_loss) best_loss = l, best = snapshot();
      loss.backward();
      // Linear decay to 0 over the run, as auto-round's LinearLR schedule.
      const double decay = 1.0 - static_cast<double>(it) / static_cast<double>(iters);
      at::NoGradGuard no_grad;
      for (auto& st : states) {
        if (st->v().grad().defined()) {
          st->v().sub_(st->v().grad().sign() * (lr * decay)).clamp_(-0.5, 0.5);
          st->v().grad().zero_();
        }
        for (at::Tensor* p : {&st->alpha(), &st->beta()}) {
          if (minmax && p->grad().defined())
            p->sub_(p->grad().sign() * (minmax_lr * decay)).clamp_(0.5, 1.0);
          if (p->grad().defined()) p->grad().zero_();
        }
      }
    }
    if (!use_best || best.empty()) return;
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < states.size(); ++i) {
      states[i]->v().copy_(best[3 * i]);
      states[i]->alpha().copy_(best[3 * i + 1]);
      states[i]->beta().copy_(best[3 * i + 2]);
    }
    // The best batch loss was measured on one batch of 8: over all samples that
    // iterate can still lose to the start, which then is kept.
    if (block_loss(model, block, samples) <= start_loss) return;
    for (auto& st : states) {
      st->v().zero_();
      st->alpha().fill_(1.0);
      st->beta().fill_(1.0);
    }
  }

  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_autoround_quantizer() {
  return std::make_shared<AutoRoundQuantizer>();
}

}  // namespace qtune
