// The model adapter (DESIGN.md layer 3): what quantizers and the tuner need
// from any model — its quantizable layers, a forward pass, a way to capture a
// layer's inputs during calibration, and a way to swap a layer's kernel.
// Built-in CNNs, language models (block by block) and TorchScript files all
// come in through this interface.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/layer_kernel.h"

namespace qtune {

/// One quantizable layer of a model: a named slot holding the current kernel.
class LayerSlot {
 public:
  LayerSlot(std::string name, LayerKind kind, at::Tensor weight, std::optional<at::Tensor> bias,
            ConvGeometry geometry = {});

  const std::string& name() const { return name_; }
  LayerKind kind() const { return kind_; }
  const ConvGeometry& geometry() const { return geometry_; }
  /// The original fp32 weight and bias (kept so that every trial starts from them).
  const at::Tensor& weight() const { return weight_; }
  const std::optional<at::Tensor>& bias() const { return bias_; }

  const LayerKernelPtr& kernel() const { return kernel_; }
  void set_kernel(LayerKernelPtr k) { kernel_ = std::move(k); }
  bool quantized() const;  ///< kernel is not the fp32 one

  /// Called with the layer's input on every forward while set (calibration).
  using Capture = std::function<void(const at::Tensor& input)>;
  void set_capture(Capture c) { capture_ = std::move(c); }
  void clear_capture() { capture_ = nullptr; }

  at::Tensor operator()(const at::Tensor& x) const;

 private:
  std::string name_;
  LayerKind kind_;
  at::Tensor weight_;
  std::optional<at::Tensor> bias_;
  ConvGeometry geometry_;
  LayerKernelPtr kernel_;
  Capture capture_;
};

class Model {
 public:
  virtual ~Model() = default;
  /// The spec this model was built from ("builtin:fmnist-cnn"); saved in qconfig.json.
  virtual std::string spec() const = 0;
  /// Runs the model on a batch; returns logits.
  virtual at::Tensor forward(const at::Tensor& input) const = 0;
  /// Quantizable layers in forward order.
  virtual std::vector<LayerSlot*> layers() = 0;
  std::vector<const LayerSlot*> layers() const;
  /// Layer by name, or qtune::Error naming it.
  LayerSlot& layer(const std::string& name);
  /// Tensors that are not part of a quantizable layer (embeddings, norms), by name.
  virtual std::map<std::string, at::Tensor> extra_tensors() const { return {}; }
  /// A deep-enough copy: layer slots are new (kernels are shared, they are immutable),
  /// so quantizing the copy leaves this model untouched.
  virtual std::unique_ptr<Model> clone() const = 0;
};

using ModelPtr = std::unique_ptr<Model>;

}  // namespace qtune
