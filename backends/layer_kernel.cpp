#include "backends/layer_kernel.h"

#include "common/error.h"

namespace qtune {

std::string to_string(LayerKind k) { return k == LayerKind::kLinear ? "Linear" : "Conv2d"; }

LayerKind layer_kind_from_string(const std::string& s) {
  if (s == "Linear") return LayerKind::kLinear;
  if (s == "Conv2d") return LayerKind::kConv2d;
  throw Error("unknown layer type '" + s + "': expected Linear or Conv2d");
}

namespace {

class Fp32Kernel final : public LayerKernel {
 public:
  Fp32Kernel(LayerKind kind, at::Tensor weight, std::optional<at::Tensor> bias,
             const ConvGeometry& geometry)
      : kind_(kind), weight_(std::move(weight)), bias_(std::move(bias)), geometry_(geometry) {}

  at::Tensor forward(const at::Tensor& x) const override {
    // A weight held in 16 bits is widened for the call: exactly the fp32
    // product, at the cost of one pass over the weight.
    const at::Tensor weight =
        weight_.scalar_type() == at::kFloat ? weight_ : weight_.to(at::kFloat);
    const at::Tensor bias = bias_ ? *bias_ : at::Tensor();
    if (kind_ == LayerKind::kLinear) {
      // One activation row (a decode step) is a matrix-vector product:
      // at::linear hands [1, K] to GEMM, whose BLAS packs a copy of the whole
      // weight on every call, three passes over it where GEMV makes one (perf
      // of llama-1b-shape int4 decode on one thread: packing lm_head took as
      // long as every quantized layer together).
      const int64_t in = weight.size(1);
      if (x.dim() >= 1 && x.numel() == in) {
        const at::Tensor v = x.reshape({in});
        const at::Tensor y = bias_ ? at::addmv(*bias_, weight, v) : at::mv(weight, v);
        std::vector<int64_t> shape = x.sizes().vec();
        shape.back() = weight.size(0);
        return y.view(shape);
      }
      return at::linear(x, weight, bias);
    }
    return at::conv2d(x, weight, bias, geometry_.stride, geometry_.padding, geometry_.dilation,
                      geometry_.groups);
  }
  std::string backend() const override { return "fp32"; }
  std::map<std::string, at::Tensor> tensors() const override {
    std::map<std::string, at::Tensor> t{{"weight", weight_}};
    if (bias_) t["bias"] = *bias_;
    return t;
  }
  int64_t storage_bytes() const override {
    int64_t bytes = weight_.numel() * weight_.element_size();
    if (bias_) bytes += bias_->numel() * bias_->element_size();
    return bytes;
  }

 private:
  LayerKind kind_;
  at::Tensor weight_;
  std::optional<at::Tensor> bias_;
  ConvGeometry geometry_;
};

}  // namespace

LayerKernelPtr make_fp32_kernel(LayerKind kind, at::Tensor weight, std::optional<at::Tensor> bias,
                                const ConvGeometry& geometry) {
  return std::make_shared<const Fp32Kernel>(kind, std::move(weight), std::move(bias), geometry);
}

}  // namespace qtune
