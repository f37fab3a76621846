#include "backends/eager/eager_int8.h"

#include "backends/int8_chain.h"
#include "common/error.h"

namespace qtune {

namespace {

class EagerInt8Kernel final : public Int8Kernel, public Int8CodesKernel {
 public:
  EagerInt8Kernel(LayerKind kind, Int8Layer layer, const ConvGeometry& geometry)
      : Int8Kernel(std::move(layer)), kind_(kind), geometry_(geometry) {
    const QuantizedWeight& w = layer_.weight;
    weight_ = int8_weight_codes(w).to(at::kDouble).reshape(w.shape);
    weight_scale_ = int8_weight_scales(w).to(at::kDouble);
    if (layer_.bias) bias_ = layer_.bias->to(at::kDouble);
  }

  at::Tensor forward(const at::Tensor& x) const override {
    check_input(x);
    const ActivationQParams p = choose_activation_qparams(x, layer_.input);
    return from_codes(quantize_activation(x, p, layer_.input.is_signed), p);
  }

  // The definition in int8_chain.h, written as it reads: the fp32 output of
  // the codes, ReLU, max-pool, the next layer's input quantization.
  at::Tensor forward_codes(const at::Tensor& codes, const CodesOutput& out) const override {
    check_codes_call(kind_, codes, out, "eager int8 " + to_string(kind_));
    at::Tensor y = forward_from_codes(codes, out.relu);
    if (out.max_pool > 1) y = at::max_pool2d(y, {out.max_pool, out.max_pool});
    return quantize_activation(y, ActivationQParams{out.scale, out.zero_point}, false);
  }

  at::Tensor forward_from_codes(const at::Tensor& codes, bool relu) const override {
    check_codes_call(kind_, codes, CodesOutput{}, "eager int8 " + to_string(kind_));
    check_codes_layer(layer_, "eager int8 " + to_string(kind_));
    const at::Tensor c = kind_ == LayerKind::kLinear && codes.dim() == 4 ? codes.flatten(1) : codes;
    check_input(c);
    const at::Tensor y =
        from_codes(c, ActivationQParams{layer_.input.scale, layer_.input.zero_point});
    return relu ? at::relu(y) : y;
  }

  std::string backend() const override { return "eager"; }

 private:
  void check_input(const at::Tensor& x) const {
    const int64_t in =
        kind_ == LayerKind::kLinear ? weight_.size(1) : weight_.size(1) * geometry_.groups;
    if (kind_ == LayerKind::kLinear) {
      QT_CHECK(x.dim() >= 1 && x.size(-1) == in, "int8 Linear: expected input [..., ", in,
               "], got ", x.sizes());
    } else {
      QT_CHECK(x.dim() == 4 && x.size(1) == in, "int8 Conv2d: expected input [N, ", in,
               ", H, W], got ", x.sizes());
    }
  }

  /// The fp32 output for input codes `xq` quantized with `p`.
  at::Tensor from_codes(const at::Tensor& xq, const ActivationQParams& p) const {
    // Subtracting the zero point first makes conv padding exact: a padded 0 is
    // the real value 0.0, which is code zp.
    const at::Tensor xi = xq.to(at::kDouble) - p.zero_point;
    const at::Tensor scale = weight_scale_ * static_cast<double>(p.scale);
    at::Tensor y;
    if (kind_ == LayerKind::kLinear) {
      y = at::matmul(xi, weight_.t()) * scale;
      if (bias_.defined()) y = y + bias_;
    } else {
      y = at::conv2d(xi, weight_, {}, geometry_.stride, geometry_.padding, geometry_.dilation,
                     geometry_.groups);
      y = y * scale.view({1, -1, 1, 1});
      if (bias_.defined()) y = y + bias_.view({1, -1, 1, 1});
    }
    return y.to(at::kFloat);
  }

  LayerKind kind_;
  ConvGeometry geometry_;
  at::Tensor weight_;        ///< fp64 integer codes in the weight's shape
  at::Tensor weight_scale_;  ///< fp64 [out]
  at::Tensor bias_;          ///< fp64 [out] or undefined
};

}  // namespace

bool eager_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason) {
  if (reason) reason->clear();
  return true;
}

LayerKernelPtr make_eager_int8_kernel(LayerKind kind, Int8Layer layer,
                                      const ConvGeometry& geometry) {
  check_int8_layer(kind, layer, "eager int8 " + to_string(kind));
  return std::make_shared<const EagerInt8Kernel>(kind, std::move(layer), geometry);
}

}  // namespace qtune
