#include "backends/onednn/onednn_int8.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "backends/int8_chain.h"
#include "backends/onednn/onednn_runtime.h"
#include "common/error.h"

namespace qtune {

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

// What a call writes: fp32 (the plain forward) or, in a chain, the next
// layer's u8 codes (int8_chain.h), optionally max-pooled.
struct OutSpec {
  bool relu = false;
  bool codes = false;
  float scale = 1.0f;  ///< codes: the next layer's input scale
  int32_t zero_point = 0;
  int64_t max_pool = 1;

  std::vector<int64_t> key() const {
    int32_t scale_bits = 0;
    std::memcpy(&scale_bits, &scale, sizeof scale_bits);
    return {relu, codes, scale_bits, zero_point, max_pool};
  }
};

// One primitive per input shape and output, with the weights in the layout it chose.
struct Plan {
  dnnl::primitive prim;
  memory weights;
  memory::desc src, dst, bias, x_scale;
  /// Linear: the weight's columns are in (h, w, c) order for channels-last input
  /// codes of this many positions (a convolution's output, flattened); 0 = as stored.
  int64_t permuted_hw = 0;
  int inv_post_op = 0;     ///< codes: index of the binary-mul post-op by 1/s; 0 = none
  float inv_scale = 1.0f;  ///< codes: 1/s of the next layer's input, in fp32
  std::optional<dnnl::pooling_forward> pool;  ///< max-pooling of dst into `pooled`
  memory::desc pool_src, pooled;
  /// The primitives' scratchpads, given at each call (scratchpad_mode::user):
  /// a library-managed one is shared, and two threads running one layer at
  /// once (models/work_units.h) would write into each other's.
  memory::desc scratch, pool_scratch;
};

// This thread's scratchpad memory for `desc`, grown as needed, never shared.
memory thread_scratchpad(const memory::desc& desc, int slot) {
  thread_local std::vector<uint8_t> buffers[2];
  std::vector<uint8_t>& b = buffers[slot];
  if (b.size() < std::max<size_t>(1, desc.get_size()))
    b.resize(std::max<size_t>(1, desc.get_size()));
  return memory(desc, onednn::cpu_engine(), b.data());
}

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
//
// Chained output (u8 codes of the next layer) runs the same primitive and the
// same post-ops up to y, then quantize_activation's own steps as post-ops:
// fl(y * (1/s)), round half to even, + zp (exact on integers),
// and the u8 store saturates to [0, 255]: bit for bit quantize_activation(y).
class OnednnInt8Kernel final : public Int8Kernel, public Int8CodesKernel {
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
    return kind_ == LayerKind::kLinear ? linear(x, OutSpec{}) : conv(x, OutSpec{});
  }
  at::Tensor forward_relu(const at::Tensor& x) const override {
    OutSpec spec;
    spec.relu = true;
    return kind_ == LayerKind::kLinear ? linear(x, spec) : conv(x, spec);
  }

  at::Tensor forward_codes(const at::Tensor& codes, const CodesOutput& out) const override {
    const std::string where = "onednn int8 " + to_string(kind_);
    check_codes_call(kind_, codes, out, where);
    check_codes_layer(layer_, where);
    OutSpec spec;
    spec.relu = out.relu;
    spec.codes = true;
    spec.scale = out.scale;
    spec.zero_point = out.zero_point;
    spec.max_pool = out.max_pool;
    return from_codes(codes, spec);
  }

  at::Tensor forward_from_codes(const at::Tensor& codes, bool relu) const override {
    const std::string where = "onednn int8 " + to_string(kind_);
    check_codes_call(kind_, codes, CodesOutput{}, where);
    check_codes_layer(layer_, where);
    OutSpec spec;
    spec.relu = relu;
    return from_codes(codes, spec);
  }

  std::string backend() const override { return "onednn"; }

 private:
  at::Tensor folded_bias(float x_scale, int32_t zp) const {
    const at::Tensor s = w_scale_.to(at::kDouble) * static_cast<double>(x_scale);
    return (bias_ / s - colsum_ * static_cast<double>(zp)).to(at::kFloat).contiguous();
  }

  at::Tensor from_codes(const at::Tensor& codes, const OutSpec& spec) const {
    const ActivationQParams p{layer_.input.scale, layer_.input.zero_point};
    if (kind_ == LayerKind::kConv2d) {
      check_conv_input(codes);
      return conv_codes(codes.contiguous(at::MemoryFormat::ChannelsLast), p, spec);
    }
    return linear_codes(codes, p, spec);
  }

  at::Tensor linear(const at::Tensor& x, const OutSpec& spec) const {
    QT_CHECK(x.dim() >= 1 && x.size(-1) == cols_, "int8 Linear: expected input [..., ", cols_,
             "], got ", x.sizes());
    const at::Tensor x2 = x.reshape({-1, cols_});
    const ActivationQParams p = choose_activation_qparams(x2, layer_.input);
    const at::Tensor xq = quantize_activation(x2, p, layer_.input.is_signed).contiguous();
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_;
    return linear_codes(xq, p, spec).view(shape);
  }

  /// xq: codes [m, cols] or [n, c, h, w] read as their flatten(1).
  at::Tensor linear_codes(const at::Tensor& xq, const ActivationQParams& p,
                          const OutSpec& spec) const {
    at::Tensor x2;
    int64_t permuted_hw = 0;
    if (xq.dim() == 4) {
      QT_CHECK(xq.size(1) * xq.size(2) * xq.size(3) == cols_, "int8 Linear: expected input ",
               "codes [N, C, H, W] with C * H * W = ", cols_, ", got ", xq.sizes());
      if (!xq.is_contiguous() && xq.is_contiguous(at::MemoryFormat::ChannelsLast) &&
          xq.size(2) * xq.size(3) > 1) {
        // Memory order is (h, w, c): read it as it lies, with the weight's
        // columns permuted to match once per plan (the integer sum is exact
        // in any order), instead of reordering the activations every call.
        permuted_hw = xq.size(2) * xq.size(3);
        x2 = xq.permute({0, 2, 3, 1}).reshape({xq.size(0), cols_});
      } else {
        x2 = xq.contiguous().view({xq.size(0), cols_});
      }
    } else {
      QT_CHECK(xq.dim() == 2 && xq.size(1) == cols_, "int8 Linear: expected input codes [M, ",
               cols_, "], got ", xq.sizes());
      x2 = xq.contiguous();
    }
    const int64_t m = x2.size(0);
    at::Tensor y =
        at::empty({m, out_}, at::TensorOptions().dtype(spec.codes ? at::kByte : at::kFloat));
    if (m > 0) {
      std::vector<int64_t> key{m, permuted_hw};
      for (int64_t k : spec.key()) key.push_back(k);
      run(*plan(key, spec), x2, y, p);
    }
    return y;
  }

  void check_conv_input(const at::Tensor& x) const {
    const int64_t in = weight_in_channels() * geometry_.groups;
    QT_CHECK(x.dim() == 4 && x.size(1) == in, "int8 Conv2d: expected input [N, ", in,
             ", H, W], got ", x.sizes());
  }

  at::Tensor conv(const at::Tensor& x, const OutSpec& spec) const {
    check_conv_input(x);
    // int8 convolutions run on NHWC; the output is returned channels-last,
    // which ATen's later ops (relu, pooling) take as it is.
    const at::Tensor xcl = x.to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
    const ActivationQParams p = choose_activation_qparams(xcl, layer_.input);
    return conv_codes(quantize_activation(xcl, p, layer_.input.is_signed), p, spec);
  }

  /// xq: channels-last codes [n, c, h, w].
  at::Tensor conv_codes(at::Tensor xq, const ActivationQParams& p, const OutSpec& spec) const {
    const int64_t h0 = xq.size(2), w0 = xq.size(3);
    int64_t pad_h = geometry_.padding[0], pad_w = geometry_.padding[1];
    const bool pad_here = p.zero_point != 0 && (pad_h > 0 || pad_w > 0);
    if (pad_here) {
      // oneDNN pads with code 0; the real 0.0 is code zp.
      xq = at::constant_pad_nd(xq, {pad_w, pad_w, pad_h, pad_h}, p.zero_point)
               .contiguous(at::MemoryFormat::ChannelsLast);
      pad_h = pad_w = 0;
    }
    const int64_t n = xq.size(0), h = xq.size(2), w = xq.size(3);
    const int64_t oh = out_size(h, pad_h, 0), ow = out_size(w, pad_w, 1);
    QT_CHECK(oh > 0 && ow > 0, "int8 Conv2d: input [", h0, ", ", w0,
             "] is smaller than the kernel");
    const int64_t ph = oh / spec.max_pool, pw = ow / spec.max_pool;
    QT_CHECK(ph > 0 && pw > 0, "int8 Conv2d: output [", oh, ", ", ow,
             "] is smaller than the max-pool window ", spec.max_pool);
    at::Tensor y = at::empty({n, out_, ph, pw}, at::TensorOptions()
                                                    .dtype(spec.codes ? at::kByte : at::kFloat)
                                                    .memory_format(at::MemoryFormat::ChannelsLast));
    if (n > 0) {
      std::vector<int64_t> key{n, h, w, pad_h, pad_w};
      for (int64_t k : spec.key()) key.push_back(k);
      run(*plan(key, spec), xq, y, p);
    }
    return y;
  }

  int64_t weight_in_channels() const { return layer_.weight.shape[1]; }

  /// Output rows (dim 0) or columns (dim 1) of the convolution of `size` padded by `pad`.
  int64_t out_size(int64_t size, int64_t pad, int dim) const {
    const int64_t k = layer_.weight.shape[2 + dim];
    return (size + 2 * pad - geometry_.dilation[dim] * (k - 1) - 1) / geometry_.stride[dim] + 1;
  }

  void run(const Plan& plan, const at::Tensor& xq, at::Tensor& y,
           const ActivationQParams& p) const {
    const dnnl::engine& eng = onednn::cpu_engine();
    const at::Tensor bias =
        layer_.input.dynamic ? folded_bias(p.scale, p.zero_point) : static_bias_;
    float x_scale = p.scale;
    // With pooling the convolution writes a full-size buffer that the pooling reads.
    at::Tensor full;
    if (plan.pool)
      full = at::empty(plan.dst.dims(), at::TensorOptions().dtype(at::kByte).memory_format(
                                            at::MemoryFormat::ChannelsLast));
    memory src(plan.src, eng, xq.data_ptr());
    memory dst(plan.dst, eng, plan.pool ? full.data_ptr() : y.data_ptr());
    memory b(plan.bias, eng, bias.data_ptr());
    memory s(plan.x_scale, eng, &x_scale);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_WEIGHTS, plan.weights},
                                         {DNNL_ARG_BIAS, b},
                                         {DNNL_ARG_DST, dst},
                                         {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, s}};
    float inv = plan.inv_scale;
    if (plan.inv_post_op > 0)
      args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(plan.inv_post_op) | DNNL_ARG_SRC_1] =
          memory(plan.x_scale, eng, &inv);
    args[DNNL_ARG_SCRATCHPAD] = thread_scratchpad(plan.scratch, 0);
    dnnl::stream& stream = onednn::thread_stream();
    plan.prim.execute(stream, args);
    if (plan.pool) {
      memory pool_src(plan.pool_src, eng, full.data_ptr());
      memory pooled(plan.pooled, eng, y.data_ptr());
      plan.pool->execute(stream, {{DNNL_ARG_SRC, pool_src},
                                  {DNNL_ARG_DST, pooled},
                                  {DNNL_ARG_SCRATCHPAD, thread_scratchpad(plan.pool_scratch, 1)}});
    }
    stream.wait();
  }

  static memory::desc scalar_desc(int ndims) {
    return memory::desc(memory::dims(ndims, 1), dt::f32, ndims == 2 ? tag::ab : tag::abcd);
  }

  /// Weight scales fixed; the input scale as a runtime binary-mul post-op;
  /// then, if asked, ReLU (after the scaling, whose factors are all positive);
  /// for codes, quantize_activation's steps (see the class comment).
  dnnl::primitive_attr attr(int ndims, const OutSpec& spec) const {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    a.set_output_scales(
        1 << 1, std::vector<float>(w_scale_.data_ptr<float>(), w_scale_.data_ptr<float>() + out_));
    dnnl::post_ops ops;
    ops.append_binary(dnnl::algorithm::binary_mul, scalar_desc(ndims));
    if (spec.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    if (spec.codes) {
      // 1/s through a binary-mul (a plain product, as quantize_activation's),
      // not an eltwise_linear: oneDNN 2.6's brgemm kernels gave a second
      // eltwise_linear the constants of the first (measured: the zp add came
      // out as another multiply by 1/s).
      ops.append_binary(dnnl::algorithm::binary_mul, scalar_desc(ndims));
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_round, 0.0f, 0.0f);
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f,
                         static_cast<float>(spec.zero_point));
    }
    a.set_post_ops(ops);
    return a;
  }

  /// The plan for a key: Linear {m, permuted_hw, spec...}; Conv2d {n, h, w, pad_h, pad_w, spec...}.
  std::shared_ptr<const Plan> plan(const std::vector<int64_t>& key, const OutSpec& spec) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    auto plan = std::make_shared<Plan>();
    const dnnl::engine& eng = onednn::cpu_engine();
    const dt src_dt = layer_.input.is_signed ? dt::s8 : dt::u8;
    const dt dst_dt = spec.codes ? dt::u8 : dt::f32;
    memory::desc user_w;
    memory::desc weights_any;
    at::Tensor codes = codes_;
    if (spec.codes) {
      plan->inv_post_op = spec.relu ? 2 : 1;  // after the x_scale mul and the ReLU (see attr)
      plan->inv_scale = 1.0f / spec.scale;    // as quantize_activation computes it
    }
    if (kind_ == LayerKind::kLinear) {
      const int64_t m = key[0];
      plan->permuted_hw = key[1];
      if (plan->permuted_hw > 0) {
        const int64_t hw = plan->permuted_hw;
        codes = codes_.view({out_, cols_ / hw, hw}).permute({0, 2, 1}).contiguous();
      }
      plan->src = memory::desc({m, cols_}, src_dt, tag::ab);
      plan->dst = memory::desc({m, out_}, dst_dt, tag::ab);
      plan->bias = memory::desc({1, out_}, dt::f32, tag::ab);
      plan->x_scale = memory::desc({1, 1}, dt::f32, tag::ab);
      // codes is [out, in] row-major: the [in, out] matrix oneDNN wants, transposed.
      user_w = memory::desc({cols_, out_}, dt::s8, tag::ba);
      weights_any = memory::desc({cols_, out_}, dt::s8, tag::any);
      dnnl::matmul::primitive_desc pd(
          dnnl::matmul::desc(plan->src, weights_any, plan->bias, plan->dst), attr(2, spec), eng);
      plan->prim = dnnl::matmul(pd);
      plan->scratch = pd.scratchpad_desc();
      plan->weights = reordered_weights(user_w, pd.weights_desc(), codes, plan->permuted_hw);
    } else {
      const int64_t n = key[0], h = key[1], w = key[2], pad_h = key[3], pad_w = key[4];
      const int64_t g = geometry_.groups, c = weight_in_channels() * g;
      const int64_t kh = layer_.weight.shape[2], kw = layer_.weight.shape[3];
      const int64_t oh = out_size(h, pad_h, 0), ow = out_size(w, pad_w, 1);
      plan->src = memory::desc({n, c, h, w}, src_dt, tag::nhwc);
      plan->dst = memory::desc({n, out_, oh, ow}, dst_dt, tag::nhwc);
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
          attr(4, spec), eng);
      plan->prim = dnnl::convolution_forward(pd);
      plan->scratch = pd.scratchpad_desc();
      plan->weights = reordered_weights(user_w, pd.weights_desc(), codes, 0);
      if (spec.max_pool > 1) {
        // Max-pooling u8 codes is exact: quantizing is monotonic (int8_chain.h).
        const int64_t k = spec.max_pool;
        plan->pooled = memory::desc({n, out_, oh / k, ow / k}, dt::u8, tag::nhwc);
        // Floor mode: the pooling reads the part of the output the windows cover.
        plan->pool_src =
            plan->dst.submemory_desc({n, out_, (oh / k) * k, (ow / k) * k}, {0, 0, 0, 0});
        dnnl::primitive_attr pool_attr;
        pool_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::pooling_forward::primitive_desc pool_pd(
            dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference,
                                        dnnl::algorithm::pooling_max, plan->pool_src, plan->pooled,
                                        {k, k}, {k, k}, {0, 0}, {0, 0}),
            pool_attr, eng);
        plan->pool = dnnl::pooling_forward(pool_pd);
        plan->pool_scratch = pool_pd.scratchpad_desc();
      }
    }
    plans_.emplace(key, plan);
    return plan;
  }

  /// The weights in `layout`, reordered once and shared by the plans that want the same layout.
  /// `codes` are the weight codes as laid out for this plan (permuted_hw as in Plan).
  memory reordered_weights(const memory::desc& user, const memory::desc& layout,
                           const at::Tensor& codes, int64_t permuted_hw) const {
    for (const auto& [key, p] : plans_)
      if (p->weights.get_desc() == layout && p->permuted_hw == permuted_hw) return p->weights;
    const dnnl::engine& eng = onednn::cpu_engine();
    memory from(user, eng, codes.data_ptr());
    memory to(layout, eng);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::reorder::primitive_desc pd(eng, user, eng, layout, attr);
    dnnl::stream& stream = onednn::thread_stream();
    dnnl::reorder(pd).execute(stream,
                              {{DNNL_ARG_FROM, from},
                               {DNNL_ARG_TO, to},
                               {DNNL_ARG_SCRATCHPAD, thread_scratchpad(pd.scratchpad_desc(), 0)}});
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
