#include "backends/torch/torch_int8.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <mutex>

#include "backends/onednn/onednn_int8.h"
#include "common/error.h"

namespace qtune {

namespace {

// PyTorch's smallest activation scale (quant_utils SMALL_SCALE_THRESHOLD):
// linear_dynamic would widen a smaller one and the codes would change.
constexpr float kMinScale = 6.1e-5f;

at::QEngine pick_engine() {
  static const at::QEngine engine = [] {
    const auto& have = at::globalContext().supportedQEngines();
    for (at::QEngine e :
         {at::QEngine::ONEDNN, at::QEngine::X86, at::QEngine::FBGEMM, at::QEngine::QNNPACK})
      if (std::find(have.begin(), have.end(), e) != have.end()) return e;
    return at::QEngine::NoQEngine;
  }();
  return engine;
}

void use_engine() {
  // The quantized engine is process-wide state in LibTorch; set it once (the
  // prepacked weights are engine-specific, so it must not change later).
  static std::once_flag once;
  std::call_once(once, [] {
    if (pick_engine() != at::QEngine::NoQEngine) at::globalContext().setQEngine(pick_engine());
  });
}

c10::OperatorHandle op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "");
}

// LibTorch 1.13's int8 ops with fp32 output quantize their input themselves
// (linear_dynamic: ChooseQuantizationParams on the batch's min/max). To make
// them run exactly the codes of int8.h, the input is given fake-quantized
// ((code - zp) * scale, exactly on the grid) with two extra rows holding the
// ends of the representable range, (qmin - zp) * scale and (qmax - zp) * scale:
// the op then picks the same scale (to an ulp) and zero point, and its
// rounding recovers every code exactly (each value is within 1e-4 steps of an
// integer). An s8 input becomes u8 with zero point 128, the same products.
// The extra rows cost one copy of the input; their outputs are dropped.
class TorchInt8Kernel final : public Int8Kernel {
 public:
  TorchInt8Kernel(LayerKind kind, Int8Layer layer, const ConvGeometry& geometry)
      : Int8Kernel(std::move(layer)), kind_(kind), geometry_(geometry) {
    use_engine();
    const QuantizedWeight& w = layer_.weight;
    out_ = w.rows();
    cols_ = w.cols();
    const int64_t groups = kind_ == LayerKind::kConv2d ? geometry_.groups : 1;
    const int64_t og = out_ / groups;
    const at::Tensor codes = int8_weight_codes(w);
    const at::Tensor scales = int8_weight_scales(w).to(at::kDouble);
    for (int64_t g = 0; g < groups; ++g) {
      const at::Tensor qw = at::_make_per_channel_quantized_tensor(
          codes.narrow(0, g * og, og).contiguous(), scales.narrow(0, g * og, og).contiguous(),
          at::zeros({og}, at::kLong), 0);
      torch::jit::Stack stack{
          qw, layer_.bias
                  ? c10::IValue(layer_.bias->narrow(0, g * og, og).to(at::kFloat).contiguous())
                  : c10::IValue()};
      op("quantized::linear_prepack").callBoxed(&stack);
      packed_.push_back(stack.at(0));
    }
  }

  at::Tensor forward(const at::Tensor& x) const override {
    return kind_ == LayerKind::kLinear ? linear(x) : conv(x);
  }

  std::string backend() const override { return "torch"; }

 private:
  /// Fake-quantized input with the two range rows appended: [rows + 2, k].
  at::Tensor with_range_rows(const at::Tensor& x2, const ActivationQParams& p) const {
    const bool s8 = layer_.input.is_signed;
    const at::Tensor codes = quantize_activation(x2, p, s8);
    const int64_t rows = x2.size(0), k = x2.size(1);
    at::Tensor in = at::empty({rows + 2, k}, x2.options().dtype(at::kFloat));
    at::Tensor body = in.narrow(0, 0, rows);
    body.copy_(codes);
    body.sub_(static_cast<double>(p.zero_point)).mul_(static_cast<double>(p.scale));
    const float qmin = s8 ? -128.0f : 0.0f, qmax = s8 ? 127.0f : 255.0f;
    const float zp = static_cast<float>(p.zero_point);
    in[rows].fill_((qmin - zp) * p.scale);
    in[rows + 1].fill_((qmax - zp) * p.scale);
    return in;
  }

  at::Tensor run(const at::Tensor& in, int64_t group) const {
    torch::jit::Stack stack{in, packed_[group], false};
    op("quantized::linear_dynamic").callBoxed(&stack);
    const at::Tensor y = stack.at(0).toTensor();
    return y.narrow(0, 0, in.size(0) - 2);
  }

  at::Tensor linear(const at::Tensor& x) const {
    QT_CHECK(x.dim() >= 1 && x.size(-1) == cols_, "int8 Linear: expected input [..., ", cols_,
             "], got ", x.sizes());
    const at::Tensor x2 = x.reshape({-1, cols_});
    const ActivationQParams p = qparams(x2);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_;
    return run(with_range_rows(x2, p), 0).reshape(shape);
  }

  at::Tensor conv(const at::Tensor& x) const {
    const int64_t groups = geometry_.groups;
    const int64_t cg = layer_.weight.shape[1], kh = layer_.weight.shape[2],
                  kw = layer_.weight.shape[3];
    QT_CHECK(x.dim() == 4 && x.size(1) == cg * groups, "int8 Conv2d: expected input [N, ",
             cg * groups, ", H, W], got ", x.sizes());
    const ActivationQParams p = qparams(x);
    // im2col pads with 0.0, which is code zp: padding stays exact.
    const at::Tensor fq =
        (quantize_activation(x, p, layer_.input.is_signed).to(at::kFloat) - p.zero_point) *
        static_cast<double>(p.scale);
    const at::Tensor cols =
        at::im2col(fq, {kh, kw}, geometry_.dilation, geometry_.padding, geometry_.stride);
    const int64_t n = x.size(0), l = cols.size(2), k = cg * kh * kw, og = out_ / groups;
    const int64_t oh =
        (x.size(2) + 2 * geometry_.padding[0] - geometry_.dilation[0] * (kh - 1) - 1) /
            geometry_.stride[0] +
        1;
    const int64_t ow =
        (x.size(3) + 2 * geometry_.padding[1] - geometry_.dilation[1] * (kw - 1) - 1) /
            geometry_.stride[1] +
        1;
    QT_ASSERT(oh * ow == l, "im2col gave ", l, " positions, expected ", oh, "x", ow);
    std::vector<at::Tensor> outs;
    for (int64_t g = 0; g < groups; ++g) {
      // [n, k, l] -> [n * l, k]: one row per output position.
      const at::Tensor a = cols.narrow(1, g * k, k).transpose(1, 2).reshape({n * l, k});
      // The rows are already on the grid, so requantizing them is the identity.
      outs.push_back(run(with_range_rows(a, p), g).view({n, oh, ow, og}));
    }
    const at::Tensor y = groups == 1 ? outs[0] : at::cat(outs, 3);
    return y.permute({0, 3, 1, 2});  // NHWC memory, NCHW shape (channels-last)
  }

  ActivationQParams qparams(const at::Tensor& x) const {
    const ActivationQParams p = choose_activation_qparams(x, layer_.input);
    QT_CHECK(p.scale >= kMinScale, "torch int8: input scale ", p.scale,
             " is below PyTorch's smallest (", kMinScale, ")");
    return p;
  }

  LayerKind kind_;
  ConvGeometry geometry_;
  int64_t out_ = 0, cols_ = 0;
  std::vector<c10::IValue> packed_;  ///< LinearPackedParamsBase per group
};

}  // namespace

std::string torch_int8_engine() {
  switch (pick_engine()) {
    case at::QEngine::ONEDNN:
      return "onednn";
    case at::QEngine::X86:
      return "x86";
    case at::QEngine::FBGEMM:
      return "fbgemm";
    case at::QEngine::QNNPACK:
      return "qnnpack";
    default:
      return "none";
  }
}

bool torch_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason) {
  if (reason) reason->clear();
  if (pick_engine() == at::QEngine::NoQEngine) {
    if (reason) *reason = "this LibTorch has no quantized engine";
    return false;
  }
  // LibTorch's x86 qengines (its own oneDNN, x86, fbgemm) multiply u8 x s8
  // with vpmaddubsw where the CPU has no int8 dot product: the s16 pair sums
  // saturate (255 * 127 * 2 > 32767) and the result is not int8.h's product
  // (measured on the onednn qengine with DNNL_MAX_CPU_ISA=AVX2). oneDNN's ISA
  // (the same cap applies to LibTorch's copy) says whether VNNI is there.
  std::string isa;
  if (!onednn_int8_accelerated(&isa)) {
    if (reason)
      *reason = "qengine " + torch_int8_engine() + " on ISA " + isa +
                " has no VNNI (vpdpbusd): its vpmaddubsw u8*s8 pair sums saturate";
    return false;
  }
  if (!layer.input.dynamic && layer.input.scale < kMinScale) {
    if (reason) *reason = "static input scale below PyTorch's smallest (6.1e-5)";
    return false;
  }
  return true;
}

LayerKernelPtr make_torch_int8_kernel(LayerKind kind, Int8Layer layer,
                                      const ConvGeometry& geometry) {
  check_int8_layer(kind, layer, "torch int8 " + to_string(kind));
  std::string why;
  QT_CHECK(torch_int8_supports(kind, layer, &why), "torch int8 ", to_string(kind), ": ", why);
  return std::make_shared<const TorchInt8Kernel>(kind, std::move(layer), geometry);
}

}  // namespace qtune
