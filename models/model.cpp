#include "models/model.h"

#include "common/error.h"

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

bool LayerSlot::quantized() const { return kernel_->backend() != "fp32"; }

at::Tensor LayerSlot::operator()(const at::Tensor& x) const {
  if (capture_) capture_(x);
  return kernel_->forward(x);
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

}  // namespace qtune
