// GPTQ (INC GPTQConfig): weight-only quantization that corrects each column's
// rounding error on the columns not yet quantized, using second-order
// statistics of the layer's calibration inputs. Runs block by block
// (quantizers/blockwise.h): a block's layers see the output of the already
// quantized blocks before them. The math is in gptq_solver.h.
#include <ATen/core/grad_mode.h>

#include <cstdio>
#include <map>
#include <set>

#include "common/error.h"
#include "models/work_units.h"
#include "quantizers/blockwise.h"
#include "quantizers/gptq_solver.h"
#include "quantizers/registry.h"
#include "quantizers/woq_common.h"

namespace qtune {

namespace {

ParamSpec bool_param(const char* name, bool value, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = ParamSpec::Type::kBool;
  p.default_value = value;
  p.help = help;
  return p;
}

/// A layer's calibration inputs as GPTQ's X [tokens, cols]: Linear rows of the
/// last dimension; Conv2d the im2col patches (the reference's nn.Unfold), whose
/// column order (channel, kh, kw) is the weight's flattened order.
at::Tensor as_tokens(const LayerSlot& slot, const at::Tensor& x) {
  if (slot.kind() == LayerKind::kLinear) return x.reshape({-1, x.size(-1)});
  const ConvGeometry& g = slot.geometry();
  QT_CHECK(g.groups == 1, "GPTQ: layer '", slot.name(), "' is a grouped convolution (groups ",
           g.groups, "); exclude it with fp32_layers");
  const at::Tensor& w = slot.weight();
  const at::Tensor cols = at::im2col(x, {w.size(2), w.size(3)}, g.dilation, g.padding, g.stride);
  return cols.transpose(1, 2).reshape({-1, cols.size(1)});  // [N*L, C*kh*kw]
}

/// The layer's spec: sym int codes on GPTQ's own grid (scale 2*absmax/(2^b-1),
/// as INC's GPTQ and the GPTQ checkpoint format have it) unless the params ask
/// for full_range; RTN's sym formula would leave code -2^(b-1) nearly unused.
QuantSpec gptq_spec(const Json& params) {
  QuantSpec s = woq_spec(params);
  if (s.scheme == Scheme::kSym && s.dtype == DType::kInt && !s.full_range)
    s.sym_grid = SymGrid::kGptq;
  return s;
}

class GptqQuantizer final : public Quantizer {
 public:
  GptqQuantizer() {
    schema_.params = woq_param_specs();
    for (ParamSpec& p : woq_layout_param_specs()) schema_.params.push_back(std::move(p));
    schema_.params.push_back(bool_param(
        "act_order", false, "quantize columns in order of decreasing Hessian diagonal (g_idx)"));
    ParamSpec damp;
    damp.name = "percdamp";
    damp.type = ParamSpec::Type::kFloat;
    damp.default_value = 0.01;
    damp.min = 1e-6;
    damp.max = 1.0;
    damp.help = "damping added to the Hessian diagonal, as a fraction of its mean";
    schema_.params.push_back(damp);
    ParamSpec block;
    block.name = "block_size";
    block.type = ParamSpec::Type::kInt;
    block.default_value = 128;
    block.min = 1;
    block.help = "columns per block of lazy error propagation";
    schema_.params.push_back(block);
    schema_.params.push_back(bool_param(
        "static_groups", false, "compute all group params from the original weight up front"));
    schema_.params.push_back(bool_param(
        "true_sequential", false,
        "quantize a block's layer groups in forward order, re-capturing inputs after each"));
  }

  std::string name() const override { return "gptq"; }
  const ParamSchema& schema() const override { return schema_; }
  bool needs_calibration() const override { return true; }

  std::vector<LayerReport> quantize(Model& model, const QuantConfig& config,
                                    const CalibrationData& calibration) const override {
    std::map<std::string, LayerReport> reports;
    std::map<std::string, Json> params;
    for (LayerSlot* slot : model.layers()) {
      LayerReport r;
      r.name = slot->name();
      r.kind = to_string(slot->kind());
      // Calibration runs the fp32 model, never a previous trial's kernels.
      install_fp32(*slot, &r);
      if (const std::optional<Json> p = layer_params(config, *slot)) {
        check_finite_weight(*slot);
        QT_CHECK(woq_spec(*p).group_dim == 1, "GPTQ: layer '", slot->name(),
                 "': group_dim must be 1 (groups along input channels)");
        params[slot->name()] = *p;
        r.params = *p;
      }
      reports[slot->name()] = std::move(r);
    }
    const bool true_sequential = config.params.value("true_sequential", false);

    for_each_block(model, calibration, [&](int64_t block, const BlockInputs& inputs) {
      for (const std::vector<std::string>& group :
           sequential_groups(model, block, params, true_sequential)) {
        std::map<std::string, std::vector<at::Tensor>> captured =
            capture_layer_inputs(model, block, inputs, group);
        // The group's layers share their captured inputs and nothing else: one
        // work unit each (models/work_units.h), the same bits on any thread count.
        std::vector<LayerSlot*> slots;
        std::vector<LayerReport*> layer_reports;
        std::vector<std::vector<at::Tensor>*> inputs_of;
        for (const std::string& name : group) {
          slots.push_back(&model.layer(name));
          layer_reports.push_back(&reports.at(name));
          inputs_of.push_back(&captured[name]);
        }
        for_each_unit(static_cast<int64_t>(group.size()), [&](int64_t unit) {
          const auto i = static_cast<size_t>(unit);
          quantize_layer(*slots[i], params.at(group[i]), *inputs_of[i], config.backend,
                         layer_reports[i]);
          inputs_of[i]->clear();  // frees this layer's activations early
        });
      }
    });

    std::vector<LayerReport> out;
    for (LayerSlot* slot : model.layers()) out.push_back(std::move(reports[slot->name()]));
    return out;
  }

 private:
  /// The layers of `block` to quantize, as groups captured together. With
  /// true_sequential, the model's input-sharing groups in forward order (for a
  /// decoder q,k,v | o | gate,up | down; one layer each otherwise); else one group.
  static std::vector<std::vector<std::string>> sequential_groups(
      Model& model, int64_t block, const std::map<std::string, Json>& params, bool sequential) {
    std::vector<std::string> in_block;
    for (LayerSlot* s : model.block_layers(block))
      if (params.count(s->name())) in_block.push_back(s->name());
    if (!sequential)
      return in_block.empty() ? std::vector<std::vector<std::string>>{}
                              : std::vector<std::vector<std::string>>{in_block};
    std::vector<std::vector<std::string>> groups;
    std::set<std::string> seen;
    for (const InputScaleGroup& g : model.input_scale_groups(block)) {
      std::vector<std::string> names;
      for (const std::string& n : g.layers)
        if (params.count(n) && seen.insert(n).second) names.push_back(n);
      if (!names.empty()) groups.push_back(std::move(names));
    }
    for (const std::string& n : in_block)  // layers no group names go last, one by one
      if (seen.insert(n).second) groups.push_back({n});
    return groups;
  }

  static void quantize_layer(LayerSlot& slot, const Json& p, const std::vector<at::Tensor>& inputs,
                             const std::string& backend, LayerReport* report) {
    at::NoGradGuard no_grad;
    const at::Tensor& w = slot.weight();
    const at::Tensor w2 = w.detach().reshape({w.size(0), -1});
    HessianAccumulator acc(w2.size(1));
    for (const at::Tensor& x : inputs) acc.add(as_tokens(slot, x));
    QT_CHECK(acc.tokens() > 0, "GPTQ: layer '", slot.name(),
             "' saw no calibration inputs (is it reached by the forward pass?)");
    GptqOptions opt;
    opt.percdamp = p.at("percdamp").get<double>();
    opt.block_size = p.at("block_size").get<int64_t>();
    opt.act_order = p.at("act_order").get<bool>();
    opt.static_groups = p.at("static_groups").get<bool>();
    GptqResult res = gptq_quantize(w2, acc.hessian(), gptq_spec(p), opt, w.sizes().vec());
    install_quantized(slot, std::move(res.weight), backend, report);
    if (res.percdamp_used != opt.percdamp || res.float64) {
      // Recorded with the layer so a trial shows that its Hessian was ill-conditioned.
      report->params["percdamp_used"] = res.percdamp_used;
      report->params["hessian_inverse_float64"] = res.float64;
      std::fprintf(stderr, "qtune: GPTQ layer '%s': Cholesky needed percdamp %g%s\n",
                   slot.name().c_str(), res.percdamp_used, res.float64 ? " in float64" : "");
    }
  }

  ParamSchema schema_;
};

}  // namespace

std::shared_ptr<const Quantizer> make_gptq_quantizer() { return std::make_shared<GptqQuantizer>(); }

}  // namespace qtune
