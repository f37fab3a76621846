#include "quantizers/woq_train.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "quant/quantized_weight.h"
#include "quantizers/woq_common.h"

namespace qtune {

at::Tensor run_layer_with(const LayerSlot& slot, const at::Tensor& x, const at::Tensor& weight,
                          const std::optional<at::Tensor>& bias_override) {
  const std::optional<at::Tensor>& b = bias_override ? bias_override : slot.bias();
  const at::Tensor bias = b ? *b : at::Tensor();
  if (slot.kind() == LayerKind::kLinear) return at::linear(x, weight, bias);
  const ConvGeometry& g = slot.geometry();
  return at::conv2d(x, weight, bias, g.stride, g.padding, g.dilation, g.groups);
}

at::Tensor round_ste(const at::Tensor& x) { return x + (at::round(x) - x).detach(); }

at::Tensor fake_quantize_ste(const at::Tensor& w, const QuantSpec& spec) {
  QT_ASSERT(spec.granularity != Granularity::kPerTensor, "per-tensor is not a WOQ granularity");
  const at::Tensor w2 = w.reshape({w.size(0), -1});
  const int64_t rows = w2.size(0), cols = w2.size(1);
  const int64_t g = spec.effective_group_size(cols);
  const int64_t n_groups = spec.groups_per_row(cols);
  const double inf = std::numeric_limits<double>::infinity();
  auto grouped = [&](double pad) {
    return at::constant_pad_nd(w2, {0, n_groups * g - cols}, pad).reshape({rows, n_groups, g});
  };
  // The same formulas as quant/quantize.cpp, in differentiable ops.
  const at::Tensor mx = std::get<0>(grouped(-inf).max(-1));
  const at::Tensor mn = std::get<0>(grouped(inf).min(-1));
  at::Tensor scale, zero;
  if (spec.scheme == Scheme::kSym) {
    const at::Tensor amax = at::maximum(mx.abs(), mn.abs()) * spec.clip_ratio;
    if (spec.full_range || spec.bits == 1) {
      scale = amax / static_cast<double>(-spec.qmin());
      scale = at::where((mx > 0) & (mx.abs() >= mn.abs()), -scale, scale);
    } else {
      scale = amax / static_cast<double>(spec.qmax());
    }
    scale = at::where(amax == 0, at::ones_like(scale), scale);
    zero = at::zeros_like(scale);
  } else {
    const at::Tensor lo = at::clamp_max(mn, 0) * spec.clip_ratio;
    const at::Tensor hi = at::clamp_min(mx, 0) * spec.clip_ratio;
    const at::Tensor range = hi - lo;
    scale = at::where(range == 0, at::ones_like(range), range / static_cast<double>(spec.qmax()));
    zero = at::clamp(round_ste(-lo / scale), 0, spec.qmax());
  }
  at::Tensor q = round_ste(grouped(0.0) / scale.unsqueeze(-1)) + zero.unsqueeze(-1);
  q = at::clamp(q, static_cast<double>(spec.qmin()), static_cast<double>(spec.qmax()));
  const at::Tensor out = (q - zero.unsqueeze(-1)) * scale.unsqueeze(-1);
  return out.reshape({rows, -1}).narrow(1, 0, cols).reshape(w.sizes());
}

namespace {

class FunctionKernel final : public LayerKernel {
 public:
  explicit FunctionKernel(std::function<at::Tensor(const at::Tensor&)> f) : f_(std::move(f)) {}
  at::Tensor forward(const at::Tensor& x) const override { return f_(x); }
  std::string backend() const override { return "train"; }
  std::map<std::string, at::Tensor> tensors() const override { return {}; }
  int64_t storage_bytes() const override { return 0; }

 private:
  std::function<at::Tensor(const at::Tensor&)> f_;
};

}  // namespace

LayerKernelPtr make_function_kernel(std::function<at::Tensor(const at::Tensor&)> forward) {
  return std::make_shared<const FunctionKernel>(std::move(forward));
}

void reset_to_fp32(Model& model) { reset_to_fp32(model.layers()); }

void reset_to_fp32(const std::vector<LayerSlot*>& layers) {
  for (LayerSlot* s : layers)
    s->set_kernel(make_fp32_kernel(s->kind(), s->resident_weight(), s->bias(), s->geometry()));
}

std::vector<LayerReport> LayerPlan::ordered(const Model& model) const {
  std::vector<LayerReport> out;
  for (const LayerSlot* s : model.layers()) {
    auto it = reports.find(s->name());
    QT_ASSERT(it != reports.end(), "no report for layer ", s->name());
    out.push_back(it->second);
  }
  return out;
}

LayerPlan plan_layers(Model& model, const QuantConfig& config) {
  LayerPlan plan;
  for (LayerSlot* slot : model.layers()) {
    LayerReport r;
    r.name = slot->name();
    r.kind = to_string(slot->kind());
    std::optional<Json> p = layer_params(config, *slot);
    if (p) {
      check_finite_weight(*slot);
      plan.params[slot->name()] = *p;
      r.params = *p;
    } else {
      install_fp32(*slot, &r);
    }
    plan.reports[slot->name()] = std::move(r);
  }
  return plan;
}

void quantize_layer(LayerSlot& slot, const QuantSpec& spec, const Json& params,
                    const std::string& backend, LayerReport* report) {
  install_quantized(slot, QuantizedWeight::from_float(slot.weight(), spec), backend, report);
  if (report) report->params = params;
}

void quantize_unvisited(Model& model, LayerPlan& plan, const std::string& backend) {
  for (LayerSlot* s : model.layers()) {
    if (!plan.quantized(s->name())) continue;
    LayerReport& r = plan.reports.at(s->name());
    if (r.quantized) continue;
    const Json& p = plan.params.at(s->name());
    quantize_layer(*s, woq_spec(p), p, backend, &r);
  }
}

void for_each_block_with_targets(Model& model, const CalibrationData& calibration,
                                 bool quantized_inputs,
                                 const std::function<void(int64_t block, const BlockInputs& inputs,
                                                          const BlockInputs& targets)>& visit) {
  reset_to_fp32(model);
  // The clone shares the fp32 kernels; quantizing `model` replaces its own slots' kernels only.
  const ModelPtr fp32 = model.clone();
  BlockInputs fp_hidden;
  {
    at::NoGradGuard no_grad;
    for (const at::Tensor& b : calibration.batches) fp_hidden.push_back(fp32->block_input(b));
  }
  for_each_block(model, calibration, [&](int64_t block, const BlockInputs& inputs) {
    BlockInputs targets = run_block(*fp32, block, fp_hidden);
    visit(block, quantized_inputs ? inputs : fp_hidden, targets);
    fp_hidden = std::move(targets);
  });
}

BlockSamples::BlockSamples(const BlockInputs& inputs, const BlockInputs& targets,
                           int64_t max_samples) {
  QT_ASSERT(!inputs.empty() && inputs.size() == targets.size());
  for (size_t i = 1; i < inputs.size(); ++i) {
    QT_CHECK(inputs[i].sizes().slice(1) == inputs[0].sizes().slice(1),
             "calibration batches must have the same shape except the batch size: batch 0 has ",
             inputs[0].sizes(), ", batch ", i, " has ", inputs[i].sizes());
  }
  inputs_ = at::cat(inputs, 0);
  targets_ = at::cat(targets, 0);
  if (max_samples > 0 && max_samples < inputs_.size(0)) {
    inputs_ = inputs_.narrow(0, 0, max_samples).contiguous();
    targets_ = targets_.narrow(0, 0, max_samples).contiguous();
  }
}

std::pair<at::Tensor, at::Tensor> BlockSamples::draw(int64_t n, std::mt19937_64& rng) const {
  if (n >= size()) return {inputs_.clone(), targets_};
  std::vector<int64_t> idx(size());
  std::iota(idx.begin(), idx.end(), 0);
  // A partial Fisher-Yates with the raw engine: std::shuffle's and the
  // distributions' outputs differ between standard libraries, this does not.
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng() % static_cast<uint64_t>(size() - i));
    std::swap(idx[i], idx[j]);
  }
  const at::Tensor index = at::tensor(std::vector<int64_t>(idx.begin(), idx.begin() + n));
  return {inputs_.index_select(0, index), targets_.index_select(0, index)};
}

double block_loss(const Model& model, int64_t block, const BlockSamples& samples, int64_t chunk) {
  at::NoGradGuard no_grad;
  double sse = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < samples.size(); i += chunk) {
    const int64_t n = std::min(chunk, samples.size() - i);
    const at::Tensor out = model.run_block(block, samples.inputs().narrow(0, i, n));
    const at::Tensor diff = out - samples.targets().narrow(0, i, n);
    sse += diff.pow(2).sum().item<double>();
    count += diff.numel();
  }
  QT_ASSERT(count > 0);
  return sse / static_cast<double>(count);
}

CalibrationData truncate_tokens(const CalibrationData& calibration, int64_t seqlen) {
  CalibrationData out = calibration;
  if (seqlen <= 0) return out;
  for (at::Tensor& b : out.batches)
    if (b.dim() == 2 && !at::isFloatingType(b.scalar_type()) && b.size(1) > seqlen)
      b = b.narrow(1, 0, seqlen).contiguous();
  return out;
}

Adam::Adam(std::vector<at::Tensor> params, double lr, double beta1, double beta2, double eps)
    : params_(std::move(params)), lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (const at::Tensor& p : params_) {
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
  }
}

void Adam::step() {
  at::NoGradGuard no_grad;
  ++t_;
  const double c1 = 1.0 - std::pow(beta1_, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(beta2_, static_cast<double>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const at::Tensor g = p.grad();
    m_[i].mul_(beta1_).add_(g, 1.0 - beta1_);
    v_[i].mul_(beta2_).addcmul_(g, g, 1.0 - beta2_);
    p.sub_(lr_ * (m_[i] / c1) / ((v_[i] / c2).sqrt() + eps_));
    p.grad().zero_();
  }
}

}  // namespace qtune
