#include "models/model.h"

#include "common/error.h"
#include "models/safetensors.h"

namespace qtune {

namespace {

void check_layer_shapes(const std::string& name, LayerKind kind, const at::Tensor& weight,
                        const std::optional<at::Tensor>& bias) {
  QT_CHECK(weight.defined(), "layer '", name, "': weight is undefined");
  const int64_t want_dim = kind == LayerKind::kLinear ? 2 : 4;
  QT_CHECK(weight.dim() == want_dim, "layer '", name, "' (", to_string(kind), "): weight must be ",
           want_dim, "-D, got shape ", weight.sizes());
  if (bias) {
    QT_CHECK(bias->defined() && bias->dim() == 1 && bias->size(0) == weight.size(0), "layer '",
             name, "': bias must have shape [", weight.size(0), "], got ",
             bias->defined() ? bias->sizes() : at::IntArrayRef{});
  }
}

}  // namespace

LayerSlot::LayerSlot(std::string name, LayerKind kind, at::Tensor weight,
                     std::optional<at::Tensor> bias, ConvGeometry geometry)
    : name_(std::move(name)),
      kind_(kind),
      weight_(std::move(weight)),
      bias_(std::move(bias)),
      geometry_(std::move(geometry)) {
  check_layer_shapes(name_, kind_, weight_, bias_);
  kernel_ = make_fp32_kernel(kind_, weight_, bias_, geometry_);
}

at::Tensor LayerSlot::weight_held_by_kernel(at::IntArrayRef shape) {
  return at::empty(shape, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
}

at::Tensor LayerSlot::resident_weight() const {
  if (holds_weight_values()) return weight_;
  const QuantizedWeight* q = kernel_->quantized_weight();
  QT_CHECK(q != nullptr, "layer '", name_, "': its weight was loaded into the '",
           kernel_->backend(), "' kernel, which does not expose it");
  return q->dequantize();
}

void LayerSlot::set_kernel(LayerKernelPtr k) {
  // The fp32 kernel a slot is built with holds no values of a kernel-held
  // weight: only a quantized kernel installed after it does.
  if (!holds_weight_values() && kernel_->quantized_weight() != nullptr) weight_ = resident_weight();
  kernel_ = std::move(k);
}

at::Tensor LayerSlot::weight() const {
  const at::Tensor w = resident_weight();
  return w.scalar_type() == at::kFloat ? w : w.to(at::kFloat);
}

void LayerSlot::release_weight_pages() const { release_mapped_pages(weight_); }

bool LayerSlot::quantized() const { return kernel_->backend() != "fp32"; }

void LayerSlot::set_weight(at::Tensor weight, std::optional<at::Tensor> bias) {
  QT_CHECK(weight.defined() && weight.sizes() == weight_.sizes(), "layer '", name_,
           "': a replacement weight must keep shape ", weight_.sizes(), ", got ",
           weight.defined() ? weight.sizes() : at::IntArrayRef{});
  check_layer_shapes(name_, kind_, weight, bias);
  weight_ = weight.to(at::kFloat).contiguous();
  bias_ = std::move(bias);
  kernel_ = make_fp32_kernel(kind_, weight_, bias_, geometry_);
}

at::Tensor LayerSlot::kernel_input(const at::Tensor& x) const {
  if (!input_multiplier_.defined()) {
    if (capture_) capture_(x);
    return x;
  }
  // Linear inputs carry channels last; Conv2d inputs [N, C, H, W] in dim 1.
  const at::Tensor scaled = kind_ == LayerKind::kLinear ? x * input_multiplier_
                                                        : x * input_multiplier_.view({1, -1, 1, 1});
  if (capture_) capture_(scaled);
  return scaled;
}

at::Tensor LayerSlot::operator()(const at::Tensor& x) const {
  return kernel_->forward(kernel_input(x));
}

at::Tensor LayerSlot::forward_relu(const at::Tensor& x) const {
  return kernel_->forward_relu(kernel_input(x));
}

std::vector<const LayerSlot*> Model::layers() const {
  // layers() hands out pointers into the model; the const overload only narrows them.
  auto mutable_layers = const_cast<Model*>(this)->layers();
  return {mutable_layers.begin(), mutable_layers.end()};
}

LayerSlot& Model::layer(const std::string& name) {
  std::string names;
  for (LayerSlot* slot : layers()) {
    if (slot->name() == name) return *slot;
    names += (names.empty() ? "" : ", ") + slot->name();
  }
  throw Error("no layer named '" + name + "' in model " + spec() + " (layers: " + names + ")");
}

std::vector<LayerSlot*> Model::block_layers(int64_t block) {
  QT_CHECK(block >= 0 && block < num_blocks(), "model ", spec(), ": no block ", block, " (it has ",
           num_blocks(), ")");
  return layers();
}

at::Tensor Model::run_block(int64_t block, const at::Tensor& hidden) const {
  QT_CHECK(block == 0 && num_blocks() == 1, "model ", spec(),
           ": run_block must be overridden by models with several blocks");
  return forward(hidden);
}

std::vector<InputScaleGroup> Model::input_scale_groups(int64_t block) {
  std::vector<InputScaleGroup> groups;
  for (LayerSlot* slot : block_layers(block)) groups.push_back({"", {slot->name()}});
  return groups;
}

namespace {

/// Input channels of a layer (columns of a Linear weight, dim 1 of a Conv2d one).
int64_t input_channels(const LayerSlot& slot) {
  QT_CHECK(slot.kind() == LayerKind::kLinear || slot.geometry().groups == 1, "layer '", slot.name(),
           "': scaling the input of a grouped convolution is not supported");
  return slot.weight_sizes()[1];
}

/// `v` [C] shaped to broadcast along dim `dim` of a `rank`-D tensor.
at::Tensor along_dim(const at::Tensor& v, int64_t dim, int64_t rank) {
  std::vector<int64_t> shape(rank, 1);
  shape[dim] = -1;
  return v.view(shape);
}

}  // namespace

void Model::fold_input_scales(const InputScaleGroup& group, const at::Tensor& scales) {
  QT_CHECK(!group.layers.empty(), "model ", spec(), ": an input-scale group has no layers");
  const at::Tensor s = scales.to(at::kFloat).contiguous();
  QT_CHECK(s.dim() == 1 && at::all(s > 0).item<bool>() && at::all(at::isfinite(s)).item<bool>(),
           "model ", spec(), ": input scales must be a 1-D tensor of finite positive values");
  const at::Tensor inv = s.reciprocal();
  for (const std::string& name : group.layers) {
    LayerSlot& slot = layer(name);
    QT_CHECK(input_channels(slot) == s.size(0), "layer '", name, "': ", s.size(0),
             " input scales for ", input_channels(slot), " input channels");
    slot.set_weight(slot.weight() * along_dim(s, 1, slot.weight().dim()), slot.bias());
    if (group.producer.empty()) {
      const at::Tensor& m = slot.input_multiplier();
      slot.set_input_multiplier(m.defined() ? m * inv : inv);
    }
  }
  if (group.producer.empty()) return;
  for (LayerSlot* p : layers()) {
    if (p->name() != group.producer) continue;
    QT_CHECK(!p->quantized(), "layer '", p->name(),
             "': cannot absorb input scales of the next layers after it was quantized");
    QT_CHECK(p->weight().size(0) == s.size(0), "layer '", p->name(), "' has ", p->weight().size(0),
             " outputs, but ", s.size(0), " scales were folded into it");
    std::optional<at::Tensor> bias = p->bias();
    if (bias) bias = *bias * inv;
    p->set_weight(p->weight() * along_dim(inv, 0, p->weight().dim()), bias);
    return;
  }
  scale_producer_output(group.producer, inv);
}

void Model::scale_producer_output(const std::string& producer, const at::Tensor&) {
  throw Error("model " + spec() + ": '" + producer +
              "' is neither a layer nor a tensor it can scale");
}

}  // namespace qtune
