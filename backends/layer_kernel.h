// How a weighted layer executes. A model holds one LayerKernel per Linear or
// Conv2d; quantizing a layer swaps its kernel for a quantized one made by a
// backend. Kernels are immutable after construction and safe to share.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quant/quantized_weight.h"

namespace qtune {

enum class LayerKind { kLinear, kConv2d };
std::string to_string(LayerKind k);                    ///< "Linear" | "Conv2d"
LayerKind layer_kind_from_string(const std::string&);  ///< inverse; qtune::Error otherwise

/// Conv2d hyper-parameters (ignored for Linear).
struct ConvGeometry {
  std::vector<int64_t> stride{1, 1};
  std::vector<int64_t> padding{0, 0};
  std::vector<int64_t> dilation{1, 1};
  int64_t groups = 1;
};

class LayerKernel {
 public:
  virtual ~LayerKernel() = default;
  /// Linear: x [..., in] -> [..., out]. Conv2d: x [N, C, H, W] -> [N, O, H', W'].
  virtual at::Tensor forward(const at::Tensor& x) const = 0;
  /// relu(forward(x)). A backend that can apply the ReLU inside its kernel
  /// (oneDNN's eltwise post-op) overrides this and saves a pass over the output.
  virtual at::Tensor forward_relu(const at::Tensor& x) const { return at::relu(forward(x)); }
  /// Backend name ("fp32", "eager", "native", ...), recorded with trials.
  virtual std::string backend() const = 0;
  virtual std::string backend_detail() const { return backend(); }
  /// The tensors to save, by suffix ("weight", "bias", "qweight", "scales", "qzeros").
  virtual std::map<std::string, at::Tensor> tensors() const = 0;
  /// Bytes of the weights as stored (what a saved model takes for this layer).
  virtual int64_t storage_bytes() const = 0;
  /// The quantized weight this kernel runs (its spec and shape are what a saved
  /// model needs to rebuild it), or nullptr for an unquantized kernel.
  virtual const QuantizedWeight* quantized_weight() const { return nullptr; }
};

using LayerKernelPtr = std::shared_ptr<const LayerKernel>;

/// The unquantized layer: ATen linear / conv2d in fp32. A bf16/fp16 weight
/// stays as given and is widened on each call.
LayerKernelPtr make_fp32_kernel(LayerKind kind, at::Tensor weight, std::optional<at::Tensor> bias,
                                const ConvGeometry& geometry = {});

}  // namespace qtune
