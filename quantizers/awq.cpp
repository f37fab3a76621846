// AWQ: activation-aware weight quantization (INC AWQConfig; Lin et al., MLSys 2024).
//
// Per block and per group of layers that share an input (Model::input_scale_groups):
// scale the input channels that carry large activations up in the weights (and
// down in whatever produces the input), so their weights lose less to rounding.
// The scale is searched on the group's output error, then each quantization
// group's clipping on its share of the layer output, then the layers are
// quantized as RTN does.
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "quant/quantize.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"
#include "quantizers/woq_train.h"

namespace qtune {

namespace {

constexpr int kScaleGrid = 20;        // ratios r = 0, 0.05, ..., 0.95 (INC/AutoAWQ n_grid)
constexpr int kClipSteps = 10;        // kept maxima 1.00, 0.95, ..., 0.55 of a group's absmax
constexpr double kClipStep = 0.05;    // (AutoAWQ's auto_clip: n_grid 20, max_shrink 0.5)
constexpr int64_t kClipTokens = 512;  // calibration tokens the clip search looks at (AutoAWQ)

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

/// A layer's calibration inputs as rows of its flattened weight's columns:
/// Linear [tokens, in]; Conv2d the im2col patches [N*L, C*kh*kw].
at::Tensor as_tokens(const LayerSlot& slot, const at::Tensor& x) {
  if (slot.kind() == LayerKind::kLinear) return x.reshape({-1, x.size(-1)});
  const ConvGeometry& g = slot.geometry();
  QT_CHECK(g.groups == 1, "awq: layer '", slot.name(), "' is a grouped convolution (groups ",
           g.groups, "); exclude it with fp32_layers");
  const at::Tensor& w = slot.weight();
  const at::Tensor cols = at::im2col(x, {w.size(2), w.size(3)}, g.dilation, g.padding, g.stride);
  return cols.transpose(1, 2).reshape({-1, cols.size(1)});
}

/// Up to 512 evenly spaced calibration tokens of a layer, as rows of its
/// flattened weight's columns (what the clip search measures on).
at::Tensor clip_tokens(const LayerSlot& slot, const at::Tensor& x) {
  const at::Tensor tokens = as_tokens(slot, x);
  const int64_t stride = std::max<int64_t>(1, tokens.size(0) / kClipTokens);
  return tokens.slice(0, 0, tokens.size(0), stride).to(at::kFloat).contiguous();
}

/// Per-input-channel scales `s` [in] as scales of the flattened weight's
/// columns (a Conv2d column is (channel, kh, kw), channel-major).
at::Tensor column_scales(const LayerSlot& slot, const at::Tensor& s) {
  const int64_t per_channel = slot.weight()[0].numel() / slot.weight().size(1);
  return per_channel == 1 ? s : s.repeat_interleave(per_channel);
}

/// AutoAWQ's clip search. Each quantization group of `w` keeps the largest |w|
/// among 1.00, 0.95, ..., 0.55 of its absmax whose quantized values give the
/// smallest error on that group's share of the layer output (the sum over the
/// group's columns of token * w) on `tokens` [n, cols] (clip_tokens); `w` comes
/// back clamped to it, ready for RTN. (INC instead searches one ratio per
/// layer in 1.00 .. 0.91: at W3 sym that cannot even reach the shrink that puts
/// code -4 to use, 6/7; on tiny-lm W3 g128 it closed 1% of RTN's perplexity gap
/// to fp32, this 62% without scaling.) AWQ's groups run along input channels.
at::Tensor clip_groups(const at::Tensor& tokens, const at::Tensor& weight, const QuantSpec& spec) {
  QT_ASSERT(spec.group_dim == 1, "awq: groups along input channels expected");
  const at::Tensor w = weight.detach().to(at::kFloat);
  const at::Tensor m = w.reshape({w.size(0), -1});  // [R, C], groups along C
  const int64_t R = m.size(0), C = m.size(1);
  const int64_t g = spec.effective_group_size(C), G = spec.groups_per_row(C);
  const int64_t pad = G * g - C;
  auto grouped = [&](const at::Tensor& t) {  // [rows, C] -> [rows, G, g], zero-padded
    return at::constant_pad_nd(t, {0, pad}, 0.0).reshape({t.size(0), G, g});
  };
  QuantSpec unclipped = spec;
  unclipped.clip_ratio = 1.0;
  const at::Tensor xg = grouped(tokens);  // [n, G, g]

  at::Tensor out = at::empty_like(m);
  // Rows in slices: the partial outputs are [rows, tokens, groups].
  const int64_t slice = std::max<int64_t>(1, (int64_t{16} << 20) / (tokens.size(0) * G));
  for (int64_t r0 = 0; r0 < R; r0 += slice) {
    const int64_t n = std::min(slice, R - r0);
    const at::Tensor mr = m.narrow(0, r0, n);
    const at::Tensor amax = grouped(mr).abs().amax(-1, /*keepdim=*/true);  // [n, G, 1]
    auto group_error = [&](const at::Tensor& q) {                          // [n, G]
      return at::einsum("tjk,rjk->rtj", {xg, grouped(q - mr)}).pow(2).mean(1);
    };
    at::Tensor best = mr.clone();
    at::Tensor best_err = at::full({n, G}, std::numeric_limits<float>::infinity());
    for (int i = 0; i < kClipSteps; ++i) {
      const at::Tensor lim = amax * (1.0 - kClipStep * i);
      const at::Tensor clamped =
          at::minimum(at::maximum(grouped(mr), -lim), lim).reshape({n, -1}).narrow(1, 0, C);
      const at::Tensor err = group_error(fake_quantize(clamped, unclipped));
      const at::Tensor better = err < best_err;  // ties keep the larger maximum
      best_err = at::where(better, err, best_err);
      const at::Tensor pick =
          better.unsqueeze(-1).expand({n, G, g}).reshape({n, -1}).narrow(1, 0, C);
      best = at::where(pick, clamped, best);
    }
    out.narrow(0, r0, n).copy_(best);
  }
  return out.reshape(w.sizes());
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
    flag("use_auto_clip", true,
         "search each group's kept maximum (1.0 .. 0.55 of its absmax) on its output error");
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
        const QuantSpec spec = woq_spec(params);
        at::Tensor w = slot.weight();
        if (params.at("use_auto_clip").get<bool>()) {
          // The clip is chosen per group on a sample of tokens; it is kept only
          // if the whole layer's output error on all calibration inputs agrees
          // (without this check, fmnist-cnn-tiny W4 g32 ended with a logit MSE
          // of 0.051 against RTN's 0.037).
          const at::Tensor x = stack_inputs(slot, captured.at(name));
          const at::Tensor clipped = clip_groups(clip_tokens(slot, x), w, spec);
          const at::Tensor ref = run_layer_with(slot, x, w);
          if (output_error(slot, x, fake_quantize(clipped, spec), ref).first <
              output_error(slot, x, fake_quantize(w, spec), ref).first)
            w = clipped;
        }
        LayerReport& report = plan.reports.at(name);
        install_quantized(slot, QuantizedWeight::from_float(w, spec), config.backend, &report);
        report.params = params;
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
    // Each candidate is judged as it will be quantized, clip search included:
    // judged by plain RTN, scales that RTN liked took the clip search's gain
    // away (tiny-lm W3 g128: perplexity 52.31 against 52.21 without scaling).
    const bool clip = lead.at("use_auto_clip").get<bool>();
    std::vector<at::Tensor> tokens;
    if (clip)
      for (LayerSlot* s : layers) tokens.push_back(clip_tokens(*s, x));

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
        const QuantSpec spec = woq_spec(plan.params.at(slot.name()));
        const at::Tensor sw = along(s, 1, slot.weight().dim());
        at::Tensor scaled = slot.weight() * sw;
        if (clip) scaled = clip_groups(tokens[k] / column_scales(slot, s), scaled, spec);
        const at::Tensor q = fake_quantize(scaled, spec) / sw;
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

  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_awq_quantizer() { return std::make_shared<AwqQuantizer>(); }

}  // namespace qtune
