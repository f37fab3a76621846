#include "models/fmnist/fmnist_cnn.h"

#include <array>
#include <optional>

#include "backends/int8_chain.h"
#include "common/error.h"
#include "models/named_tensors.h"

namespace qtune {

const std::vector<FmnistLayerSpec>& fmnist_cnn_layers() {
  static const std::vector<FmnistLayerSpec> layers{
      {"conv1", LayerKind::kConv2d, {16, 1, 3, 3}},
      {"conv2", LayerKind::kConv2d, {32, 16, 3, 3}},
      {"fc1", LayerKind::kLinear, {128, 32 * 7 * 7}},
      {"fc2", LayerKind::kLinear, {10, 128}},
  };
  return layers;
}

ConvGeometry fmnist_conv_geometry() {
  ConvGeometry g;
  g.padding = {1, 1};
  return g;
}

namespace {

class FmnistCnn final : public Model {
 public:
  FmnistCnn(std::string spec, std::vector<LayerSlot> slots)
      : spec_(std::move(spec)), slots_(std::move(slots)) {
    QT_ASSERT(slots_.size() == 4);
  }

  std::string spec() const override { return spec_; }

  at::Tensor forward(const at::Tensor& input) const override {
    QT_CHECK(input.dim() == 4 && input.size(1) == 1 && input.size(2) == 28 && input.size(3) == 28,
             "model ", spec_, ": input must have shape [N, 1, 28, 28], got ", input.sizes());
    QT_CHECK(input.scalar_type() == at::kFloat, "model ", spec_, ": input must be float32, got ",
             input.scalar_type());
    if (std::optional<at::Tensor> y = int8_chain_forward(input)) return *y;
    // forward_relu: backends that can fuse the ReLU into the layer do.
    at::Tensor x = at::max_pool2d(slots_[0].forward_relu(input), {2, 2});
    x = at::max_pool2d(slots_[1].forward_relu(x), {2, 2});
    x = slots_[2].forward_relu(x.flatten(1));
    return slots_[3](x);
  }

  std::vector<LayerSlot*> layers() override {
    std::vector<LayerSlot*> out;
    for (LayerSlot& s : slots_) out.push_back(&s);
    return out;
  }

  // ReLU and max-pooling commute with positive per-channel scales, so conv1 and
  // fc1 can absorb the input scales of conv2 and fc2. Flattening spreads each
  // conv2 channel over 49 fc1 inputs, so fc1 (like conv1, fed by the image)
  // gets an inserted multiplier.
  std::vector<InputScaleGroup> input_scale_groups(int64_t block) override {
    QT_CHECK(block == 0, "model ", spec_, ": no block ", block, " (it has 1)");
    return {{"", {"conv1"}}, {"conv1", {"conv2"}}, {"", {"fc1"}}, {"fc1", {"fc2"}}};
  }

  std::unique_ptr<Model> clone() const override {
    std::vector<LayerSlot> slots = slots_;
    // A capture set on the original must not fire when the copy runs.
    for (LayerSlot& s : slots) s.clear_capture();
    return std::make_unique<FmnistCnn>(spec_, std::move(slots));
  }

 private:
  // When all four layers are static u8 int8 with codes kernels (int8_chain.h),
  // u8 codes flow from layer to layer: each writes the next one's input codes,
  // ReLU and max-pooling included, and fc1 reads conv2's channels-last codes as
  // their flatten. The result is the plain forward's, bit for bit, on the same
  // kernels. nullopt otherwise, or with an input multiplier (it scales the fp32
  // tensor between the layers).
  std::optional<at::Tensor> int8_chain_forward(const at::Tensor& input) const {
    std::array<const Int8CodesKernel*, 4> k{};
    std::array<const Int8Kernel*, 4> q{};
    for (size_t i = 0; i < slots_.size(); ++i) {
      const LayerSlot& s = slots_[i];
      if (s.input_multiplier().defined()) return std::nullopt;
      k[i] = codes_kernel(*s.kernel());
      q[i] = dynamic_cast<const Int8Kernel*>(s.kernel().get());
      if (!k[i] || !q[i]) return std::nullopt;
    }
    at::Tensor c = quantize_chain_input(input, q[0]->int8_layer());
    c = k[0]->forward_codes(c, codes_output_for(q[1]->int8_layer(), true, 2));
    c = k[1]->forward_codes(c, codes_output_for(q[2]->int8_layer(), true, 2));
    c = k[2]->forward_codes(c, codes_output_for(q[3]->int8_layer(), true));
    return k[3]->forward_from_codes(c, false);
  }

  std::string spec_;
  std::vector<LayerSlot> slots_;
};

}  // namespace

ModelPtr make_fmnist_cnn(const std::string& spec,
                         const std::map<std::string, at::Tensor>& tensors) {
  std::vector<LayerSlot> slots;
  for (const FmnistLayerSpec& l : fmnist_cnn_layers()) {
    const std::string name = l.name;
    at::Tensor w = take_tensor(spec, tensors, name + ".weight", l.weight_shape);
    at::Tensor b = take_tensor(spec, tensors, name + ".bias", {l.weight_shape[0]});
    slots.emplace_back(name, l.kind, std::move(w), std::move(b),
                       l.kind == LayerKind::kConv2d ? fmnist_conv_geometry() : ConvGeometry{});
  }
  return std::make_unique<FmnistCnn>(spec, std::move(slots));
}

}  // namespace qtune
