#include "backends/eager/eager_kernels.h"

#include "common/error.h"

namespace qtune {

namespace {

class EagerKernel final : public LayerKernel {
 public:
  EagerKernel(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
              const ConvGeometry& geometry)
      : kind_(kind), w_(std::move(w)), bias_(std::move(bias)), geometry_(geometry) {}

  at::Tensor forward(const at::Tensor& x) const override {
    // Dequantizing per call (not caching fp32) keeps the memory and the cost
    // of a weight-only layer honest; this is the reference, not the fast path.
    const at::Tensor weight = w_.dequantize();
    const at::Tensor bias = bias_ ? *bias_ : at::Tensor();
    if (kind_ == LayerKind::kLinear) return at::linear(x, weight, bias);
    return at::conv2d(x, weight, bias, geometry_.stride, geometry_.padding, geometry_.dilation,
                      geometry_.groups);
  }

  std::string backend() const override { return "eager"; }
  const QuantizedWeight* quantized_weight() const override { return &w_; }

  std::map<std::string, at::Tensor> tensors() const override {
    // The stored form: compressed scales / zero points and g_idx when the spec has them.
    std::map<std::string, at::Tensor> t = w_.tensors();
    if (bias_) t["bias"] = *bias_;
    return t;
  }

  int64_t storage_bytes() const override {
    int64_t bytes = w_.storage_bytes();
    if (bias_) bytes += bias_->numel() * bias_->element_size();
    return bytes;
  }

 private:
  LayerKind kind_;
  QuantizedWeight w_;
  std::optional<at::Tensor> bias_;
  ConvGeometry geometry_;
};

}  // namespace

bool eager_supports(LayerKind kind, const QuantSpec& spec, std::string* reason) {
  if (reason) reason->clear();
  return true;
}

LayerKernelPtr make_eager_kernel(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
                                 const ConvGeometry& geometry) {
  const size_t dims = kind == LayerKind::kLinear ? 2 : 4;
  QT_CHECK(w.shape.size() == dims, to_string(kind), " layer: expected a ", dims,
           "-D weight, got shape ", at::IntArrayRef(w.shape));
  QT_CHECK(!bias || (bias->dim() == 1 && bias->size(0) == w.rows()), to_string(kind),
           " layer: expected a bias of shape [", w.rows(), "], got ",
           bias ? bias->sizes() : at::IntArrayRef{});
  return std::make_shared<const EagerKernel>(kind, std::move(w), std::move(bias), geometry);
}

}  // namespace qtune
