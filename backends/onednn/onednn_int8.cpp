#include "backends/onednn/onednn_int8.h"

#include <map>
#include <mutex>

#include "backends/onednn/onednn_runtime.h"
#include "common/error.h"

namespace qtune {

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

// One primitive per input shape, with the weights in the layout it chose.
struct Plan {
  dnnl::primitive prim;
  memory weights;
  memory::desc src, dst, bias, x_scale;
};

// oneDNN 2.x applies the output scales after the bias (dst = scale * (acc + b),
// checked by the tests), and its fast int8 kernels (brgemm) want the scales
// fixed at creation: runtime scales fall back to a generic gemm 25x slower. So
// the primitive gets the constant weight scales, the batch's input scale comes
// in through a binary-mul post-op (a runtime [1] tensor), and the bias is
// passed pre-divided with the zero point folded in (a per-call [out] vector):
//   y = x_scale * (w_scale[o] * (acc_raw + bias[o] / (x_scale * w_scale[o]) - zp * colsum[o]))
// where acc_raw = sum_k xq_k * wq_k and colsum[o] = sum_k wq_k; this equals
// the definition in int8.h. Folding zp ourselves keeps oneDNN off its slower
// zero-point paths; conv padding stays exact by padding with code zp first.
class OnednnInt8Kernel final : public Int8Kernel {
 public:
  OnednnInt8Kernel(LayerKind kind, Int8Layer layer, const ConvGeometry& geometry)
      : Int8Kernel(std::move(layer)), kind_(kind), geometry_(geometry) {
    const QuantizedWeight& w = layer_.weight;
    out_ = w.rows();
    cols_ = w.cols();
    codes_ = int8_weight_codes(w).contiguous();
    w_scale_ = int8_weight_scales(w);
    colsum_ = codes_.to(at::kDouble).sum(1);
    bias_ =
        layer_.bias ? layer_.bias->to(at::kDouble).contiguous() : at::zeros({out_}, at::kDouble);
    if (!layer_.input.dynamic)
      static_bias_ = folded_bias(layer_.input.scale, layer_.input.zero_point);
  }

  at::Tensor forward(const at::Tensor& x) const override {
    return kind_ == LayerKind::kLinear ? linear(x, false) : conv(x, false);
  }
  at::Tensor forward_relu(const at::Tensor& x) const override {
    return kind_ == LayerKind::kLinear ? linear(x, true) : conv(x, true);
  }

  std::string backend() const override { return "onednn"; }

 private:
  at::Tensor folded_bias(float x_scale, int32_t zp) const {
    const at::Tensor s = w_scale_.to(at::kDouble) * static_cast<double>(x_scale);
    return (bias_ / s - colsum_ * static_cast<double>(zp)).to(at::kFloat).contiguous();
  }

  at::Tensor linear(const at::Tensor& x, bool relu) const {
    QT_CHECK(x.dim() >= 1 && x.size(-1) == cols_, "int8 Linear: expected input [..., ", cols_,
             "], got ", x.sizes());
    const at::Tensor x2 = x.reshape({-1, cols_});
    const int64_t m = x2.size(0);
    const ActivationQParams p = choose_activation_qparams(x2, layer_.input);
    const at::Tensor xq = quantize_activation(x2, p, layer_.input.is_signed).contiguous();
    at::Tensor y = at::empty({m, out_}, x2.options().dtype(at::kFloat));
    if (m > 0) run(*plan({m, relu}), xq, y, p);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_;
    return y.view(shape);
  }

  at::Tensor conv(const at::Tensor& x, bool relu) const {
    const int64_t in = weight_in_channels() * geometry_.groups;
    QT_CHECK(x.dim() == 4 && x.size(1) == in, "int8 Conv2d: expected input [N, ", in,
             ", H, W], got ", x.sizes());
    // int8 convolutions run on NHWC; the output is returned channels-last,
    // which ATen's later ops (relu, pooling) take as it is.
    const at::Tensor xcl = x.to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
    const ActivationQParams p = choose_activation_qparams(xcl, layer_.input);
    at::Tensor xq = quantize_activation(xcl, p, layer_.input.is_signed);
    int64_t pad_h = geometry_.padding[0], pad_w = geometry_.padding[1];
    const bool pad_here = p.zero_point != 0 && (pad_h > 0 || pad_w > 0);
    if (pad_here) {
      // oneDNN pads with code 0; the real 0.0 is code zp.
      xq = at::constant_pad_nd(xq, {pad_w, pad_w, pad_h, pad_h}, p.zero_point)
               .contiguous(at::MemoryFormat::ChannelsLast);
      pad_h = pad_w = 0;
    }
    const int64_t n = xq.size(0), h = xq.size(2), w = xq.size(3);
    const int64_t kh = layer_.weight.shape[2], kw = layer_.weight.shape[3];
    const int64_t oh =
        (h + 2 * pad_h - geometry_.dilation[0] * (kh - 1) - 1) / geometry_.stride[0] + 1;
    const int64_t ow =
        (w + 2 * pad_w - geometry_.dilation[1] * (kw - 1) - 1) / geometry_.stride[1] + 1;
    QT_CHECK(oh > 0 && ow > 0, "int8 Conv2d: input ", x.sizes(), " is smaller than the kernel");
    at::Tensor y =
        at::empty({n, out_, oh, ow},
                  x.options().dtype(at::kFloat).memory_format(at::MemoryFormat::ChannelsLast));
    if (n > 0) run(*plan({n, h, w, pad_h, pad_w, relu}), xq, y, p);
    return y;
  }

  int64_t weight_in_channels() const { return layer_.weight.shape[1]; }

  void run(const Plan& plan, const at::Tensor& xq, at::Tensor& y,
           const ActivationQParams& p) const {
    const dnnl::engine& eng = onednn::cpu_engine();
    const at::Tensor bias =
        layer_.input.dynamic ? folded_bias(p.scale, p.zero_point) : static_bias_;
    float x_scale = p.scale;
    memory src(plan.src, eng, xq.data_ptr());
    memory dst(plan.dst, eng, y.data_ptr());
    memory b(plan.bias, eng, bias.data_ptr());
    memory s(plan.x_scale, eng, &x_scale);
    dnnl::stream& stream = onednn::thread_stream();
    plan.prim.execute(stream, {{DNNL_ARG_SRC, src},
                               {DNNL_ARG_WEIGHTS, plan.weights},
                               {DNNL_ARG_BIAS, b},
                               {DNNL_ARG_DST, dst},
                               {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, s}});
    stream.wait();
  }

  /// Weight scales fixed; the input scale as a runtime binary-mul post-op;
  /// then, if asked, ReLU (after the scaling, whose factors are all positive).
  dnnl::primitive_attr attr(int ndims, bool relu) const {
    dnnl::primitive_attr a;
    a.set_output_scales(
        1 << 1, std::vector<float>(w_scale_.data_ptr<float>(), w_scale_.data_ptr<float>() + out_));
    dnnl::post_ops ops;
    ops.append_binary(dnnl::algorithm::binary_mul, memory::desc(memory::dims(ndims, 1), dt::f32,
                                                                ndims == 2 ? tag::ab : tag::abcd));
    if (relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    a.set_post_ops(ops);
    return a;
  }

  /// The plan for an input shape and ReLU fusion: Linear {m, relu};
  /// Conv2d {n, h, w, pad_h, pad_w, relu}.
  std::shared_ptr<const Plan> plan(const std::vector<int64_t>& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    auto plan = std::make_shared<Plan>();
    const dnnl::engine& eng = onednn::cpu_engine();
    const dt src_dt = layer_.input.is_signed ? dt::s8 : dt::u8;
    memory::desc user_w;
    memory::desc weights_any;
    if (kind_ == LayerKind::kLinear) {
      const int64_t m = key[0];
      plan->src = memory::desc({m, cols_}, src_dt, tag::ab);
      plan->dst = memory::desc({m, out_}, dt::f32, tag::ab);
      plan->bias = memory::desc({1, out_}, dt::f32, tag::ab);
      plan->x_scale = memory::desc({1, 1}, dt::f32, tag::ab);
      // codes_ is [out, in] row-major: the [in, out] matrix oneDNN wants, transposed.
      user_w = memory::desc({cols_, out_}, dt::s8, tag::ba);
      weights_any = memory::desc({cols_, out_}, dt::s8, tag::any);
      dnnl::matmul::primitive_desc pd(
          dnnl::matmul::desc(plan->src, weights_any, plan->bias, plan->dst), attr(2, key[1] != 0),
          eng);
      plan->prim = dnnl::matmul(pd);
      plan->weights = reordered_weights(user_w, pd.weights_desc());
    } else {
      const int64_t n = key[0], h = key[1], w = key[2], pad_h = key[3], pad_w = key[4];
      const int64_t g = geometry_.groups, c = weight_in_channels() * g;
      const int64_t kh = layer_.weight.shape[2], kw = layer_.weight.shape[3];
      const int64_t oh =
          (h + 2 * pad_h - geometry_.dilation[0] * (kh - 1) - 1) / geometry_.stride[0] + 1;
      const int64_t ow =
          (w + 2 * pad_w - geometry_.dilation[1] * (kw - 1) - 1) / geometry_.stride[1] + 1;
      plan->src = memory::desc({n, c, h, w}, src_dt, tag::nhwc);
      plan->dst = memory::desc({n, out_, oh, ow}, dt::f32, tag::nhwc);
      plan->bias = memory::desc({out_}, dt::f32, tag::a);
      plan->x_scale = memory::desc({1, 1, 1, 1}, dt::f32, tag::abcd);
      if (g == 1) {
        user_w = memory::desc({out_, c, kh, kw}, dt::s8, tag::oihw);
        weights_any = memory::desc({out_, c, kh, kw}, dt::s8, tag::any);
      } else {
        user_w = memory::desc({g, out_ / g, c / g, kh, kw}, dt::s8, tag::goihw);
        weights_any = memory::desc({g, out_ / g, c / g, kh, kw}, dt::s8, tag::any);
      }
      // oneDNN counts dilation from 0 (no gap), ATen from 1.
      const memory::dims strides{geometry_.stride[0], geometry_.stride[1]};
      const memory::dims dilation{geometry_.dilation[0] - 1, geometry_.dilation[1] - 1};
      const memory::dims padding{pad_h, pad_w};
      dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(
              dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, plan->src,
              weights_any, plan->bias, plan->dst, strides, dilation, padding, padding),
          attr(4, key[5] != 0), eng);
      plan->prim = dnnl::convolution_forward(pd);
      plan->weights = reordered_weights(user_w, pd.weights_desc());
    }
    plans_.emplace(key, plan);
    return plan;
  }

  /// The weights in `layout`, reordered once and shared by the plans that want the same layout.
  memory reordered_weights(const memory::desc& user, const memory::desc& layout) const {
    for (const auto& [key, p] : plans_)
      if (p->weights.get_desc() == layout) return p->weights;
    const dnnl::engine& eng = onednn::cpu_engine();
    memory from(user, eng, codes_.data_ptr());
    memory to(layout, eng);
    dnnl::stream& stream = onednn::thread_stream();
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
    return to;
  }

  LayerKind kind_;
  ConvGeometry geometry_;
  int64_t out_ = 0, cols_ = 0;
  at::Tensor codes_;        ///< int8 [out, cols]
  at::Tensor w_scale_;      ///< f32 [out]
  at::Tensor colsum_;       ///< f64 [out]: sum of each output channel's codes
  at::Tensor bias_;         ///< f64 [out] (zeros without bias)
  at::Tensor static_bias_;  ///< f32 [out]: folded bias of a static layer
  mutable std::mutex mu_;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const Plan>> plans_;
};

}  // namespace

bool onednn_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason) {
  if (reason) reason->clear();
  // Without a dot-product instruction oneDNN multiplies u8 x s8 pairs with
  // vpmaddubsw, whose int16 pair sums saturate (255 * 127 * 2 > 32767): the
  // results would not be the integer product int8.h defines.
  if (!onednn::has_int8_acceleration()) {
    if (reason)
      *reason = "oneDNN ISA " + onednn::effective_isa_name() +
                " has no int8 dot product (VNNI/AMX), its u8*s8 sums saturate";
    return false;
  }
  return true;
}

LayerKernelPtr make_onednn_int8_kernel(LayerKind kind, Int8Layer layer,
                                       const ConvGeometry& geometry) {
  check_int8_layer(kind, layer, "onednn int8 " + to_string(kind));
  return std::make_shared<const OnednnInt8Kernel>(kind, std::move(layer), geometry);
}

bool onednn_int8_accelerated(std::string* isa) {
  if (isa) *isa = onednn::effective_isa_name();
  return onednn::has_int8_acceleration();
}

}  // namespace qtune
