// AWQ: activation-aware weight quantization (INC AWQConfig; Lin et al., MLSys 2024).
//
// Per block and per group of layers that share an input (Model::input_scale_groups):
// scale the input channels that carry large activations up in the weights (and
// down in whatever produces the input), so their weights lose less to rounding.
// The scale is searched on the group's output error, then each layer's clip
// ratio on its own output error, then the layers are quantized as RTN does.
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "quantizers/core/quantize.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"
#include "quantizers/woq_train.h"

namespace qtune {

namespace {

constexpr int kScaleGrid = 20;  // ratios r = 0, 0.05, ..., 0.95 (INC/AutoAWQ n_grid)
constexpr int kClipSteps = 10;  // clip ratios 1.00, 0.99, ..., 0.91 (INC search_clip)

/// Input channels are the last dim of a Linear input, dim 1 of a Conv2d one.
int64_t channel_dim(const LayerSlot& slot, const at::Tensor& x) {
  return slot.kind() == LayerKind::kLinear ? x.dim() - 1 : 1;
}

/// `v` [C] shaped to broadcast along input channels of a weight or an input.
at::Tensor along(const at::Tensor& v, int64_t dim, int64_t rank) {
  std::vector<int64_t> shape(rank, 1);
  shape[dim] = -1;
  return v.view(shape);
}

/// The captured batches of a layer as one tensor (Linear: [tokens, in]).
at::Tensor stack_inputs(const LayerSlot& slot, const std::vector<at::Tensor>& xs) {
  at::Tensor x = at::cat(xs, 0);
  if (slot.kind() == LayerKind::kLinear) x = x.reshape({-1, x.size(-1)});
  return x;
}

/// Mean |x| per input channel over all calibration positions.
at::Tensor activation_scale(const LayerSlot& slot, const at::Tensor& x) {
  const int64_t dim = channel_dim(slot, x);
  return x.abs().transpose(0, dim).reshape({x.size(dim), -1}).mean(1);
}

/// Mean over output rows (and kernel taps) of |w| relative to its quantization
/// group's max, per input channel, over all layers of the group (AutoAWQ's w_max).
at::Tensor weight_scale(const std::vector<LayerSlot*>& layers, const QuantSpec& spec) {
  std::vector<at::Tensor> rows;
  for (const LayerSlot* s : layers) rows.push_back(s->weight().reshape({s->weight().size(0), -1}));
  const at::Tensor w = at::cat(rows, 0).abs();
  const int64_t cols = w.size(1);
  const int64_t g = spec.effective_group_size(cols);
  const int64_t n_groups = spec.groups_per_row(cols);
  at::Tensor grouped = at::constant_pad_nd(w, {0, n_groups * g - cols}, 0.0);
  grouped = grouped.reshape({w.size(0), n_groups, g});
  at::Tensor amax = grouped.amax(-1, /*keepdim=*/true);
  amax = at::where(amax == 0, at::ones_like(amax), amax);
  const at::Tensor rel = (grouped / amax).reshape({w.size(0), -1}).narrow(1, 0, cols);
  const int64_t in = layers.front()->weight().size(1);
  return rel.reshape({w.size(0), in, cols / in}).mean(at::IntArrayRef{0, 2});
}

/// Squared error sum of `slot` on `x` with `weight` against `ref`, and its element count.
/// Runs over slices of rows: the search calls this ~30 times per layer, and
/// whole-set temporaries (100 MB for 32k tokens x 768) would be fresh mmaps
/// each time, whose page faults cost more than the products (measured: half
/// the CPU time in the kernel). Slices below glibc's mmap threshold reuse heap.
std::pair<double, int64_t> output_error(const LayerSlot& slot, const at::Tensor& x,
                                        const at::Tensor& weight, const at::Tensor& ref) {
  constexpr int64_t kSliceElements = int64_t{2} << 20;  // 8 MB of fp32 per temporary
  const int64_t rows = x.size(0);
  const int64_t row_elements = std::max<int64_t>(
      {1, x.numel() / std::max<int64_t>(rows, 1), ref.numel() / std::max<int64_t>(rows, 1)});
  const int64_t step = std::max<int64_t>(1, kSliceElements / row_elements);
  double sse = 0;
  for (int64_t r = 0; r < rows; r += step) {
    const int64_t n = std::min(step, rows - r);
    const at::Tensor d = run_layer_with(slot, x.narrow(0, r, n), weight) - ref.narrow(0, r, n);
    sse += d.pow(2).sum().item<double>();
  }
  return {sse, ref.numel()};
}

struct GroupScale {
  InputScaleGroup group;
  at::Tensor scales;
  double ratio = 0;  ///< the grid ratio chosen; -1 = no scaling
};

class AwqQuantizer final : public Quantizer {
 public:
  AwqQuantizer() {
    schema_.params = woq_param_specs();
    auto flag = [this](const char* name, bool def, const char* help) {
      ParamSpec p;
      p.name = name;
      p.type = ParamSpec::Type::kBool;
      p.default_value = def;
      p.help = help;
      schema_.params.push_back(p);
    };
    flag("use_auto_scale", true, "search per-input-channel scales on the output error");
    flag("use_auto_clip", true, "search each layer's clip ratio (1.0 .. 0.91) on its output error");
    flag("folding", false,
         "true: scale only groups whose producer absorbs the scales; false: also insert an "
         "input multiply where nothing can");
  }

  std::string name() const override { return "awq"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return true; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData& calibration) const override {
    LayerPlan plan = plan_layers(model, config);
    reset_to_fp32(model);
    at::NoGradGuard no_grad;
    for_each_block(model, calibration, [&](int64_t block, const BlockInputs& inputs) {
      // Scales first, for every group, on the inputs as they are; folding a
      // group changes only that group's input, so the order does not matter.
      std::vector<GroupScale> found;
      for (const InputScaleGroup& g : model.input_scale_groups(block)) {
        std::optional<GroupScale> s = search_group(model, block, inputs, g, plan);
        if (s) found.push_back(std::move(*s));
      }
      for (const GroupScale& s : found) model.fold_input_scales(s.group, s.scales);

      std::vector<std::string> names;
      for (LayerSlot* s : model.block_layers(block))
        if (plan.quantized(s->name())) names.push_back(s->name());
      if (names.empty()) return;
      // Inputs again: the folded scales changed them.
      const auto captured = capture_layer_inputs(model, block, inputs, names);
      for (const std::string& name : names) {
        LayerSlot& slot = model.layer(name);
        const Json& params = plan.params.at(name);
        QuantSpec spec = woq_spec(params);
        if (params.at("use_auto_clip").get<bool>())
          spec.clip_ratio = search_clip(slot, stack_inputs(slot, captured.at(name)), spec);
        quantize_layer(slot, spec, params, config.backend, &plan.reports.at(name));
      }
    });
    quantize_unvisited(model, plan, config.backend);
    return plan.ordered(model);
  }

 private:
  std::optional<GroupScale> search_group(Model& model, int64_t block, const BlockInputs& inputs,
                                         const InputScaleGroup& g, const LayerPlan& plan) const {
    // As INC: a group with a layer kept fp32 is not scaled.
    for (const std::string& n : g.layers)
      if (!plan.quantized(n)) return std::nullopt;
    const Json& lead = plan.params.at(g.layers.front());
    if (!lead.at("use_auto_scale").get<bool>()) return std::nullopt;
    if (g.producer.empty() && lead.at("folding").get<bool>()) return std::nullopt;

    std::vector<LayerSlot*> layers;
    for (const std::string& n : g.layers) layers.push_back(&model.layer(n));
    const QuantSpec lead_spec = woq_spec(lead);
    // The layers share their input: capture the first one's.
    const at::Tensor x = stack_inputs(
        *layers.front(),
        capture_layer_inputs(model, block, inputs, {g.layers.front()}).at(g.layers[0]));
    const at::Tensor x_max = activation_scale(*layers.front(), x);
    const at::Tensor w_max = weight_scale(layers, lead_spec);
    std::vector<at::Tensor> refs;
    for (LayerSlot* s : layers) refs.push_back(run_layer_with(*s, x, s->weight()));

    GroupScale best{g, at::Tensor(), 0};
    double best_loss = std::numeric_limits<double>::infinity();
    // Candidate -1 is no scaling at all (plain RTN). AutoAWQ's duo-scaling grid
    // lacks it (its r = 0 is 1 / w_max, not 1), so on layers without outlier
    // channels every grid point could be worse than doing nothing; with it, a
    // group's output error is never above RTN's.
    for (int i = -1; i < kScaleGrid; ++i) {
      const double r = i < 0 ? -1.0 : static_cast<double>(i) / kScaleGrid;
      at::Tensor s;
      if (i < 0) {
        s = at::ones_like(x_max);
      } else {
        // AutoAWQ's form: the 1e-4 keeps channels whose weights are all zero finite.
        s = (x_max.pow(r) / (w_max.pow(1.0 - r) + 1e-4)).clamp_min(1e-4);
        s = s / (s.max() * s.min()).sqrt();
      }
      double sse = 0;
      int64_t count = 0;
      for (size_t k = 0; k < layers.size(); ++k) {
        const LayerSlot& slot = *layers[k];
        const at::Tensor sw = along(s, 1, slot.weight().dim());
        const at::Tensor q =
            fake_quantize(slot.weight() * sw, woq_spec(plan.params.at(slot.name()))) / sw;
        const auto [e, n] = output_error(slot, x, q, refs[k]);
        sse += e;
        count += n;
      }
      const double loss = sse / static_cast<double>(count);
      if (std::isfinite(loss) && loss < best_loss) {
        best_loss = loss;
        best.scales = s;
        best.ratio = r;
      }
    }
    QT_CHECK(best.scales.defined(), "awq: layer '", g.layers.front(),
             "': every scale candidate gave a non-finite output error (NaN or inf in inputs?)");
    return best;
  }

  static double search_clip(const LayerSlot& slot, const at::Tensor& x, QuantSpec spec) {
    const at::Tensor ref = run_layer_with(slot, x, slot.weight());
    double best_ratio = 1.0, best_loss = std::numeric_limits<double>::infinity();
    for (int i = 0; i < kClipSteps; ++i) {
      spec.clip_ratio = 1.0 - 0.01 * i;
      const double loss = output_error(slot, x, fake_quantize(slot.weight(), spec), ref).first;
      if (loss < best_loss) best_loss = loss, best_ratio = spec.clip_ratio;
    }
    return best_ratio;
  }

  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_awq_quantizer() { return std::make_shared<AwqQuantizer>(); }

}  // namespace qtune
