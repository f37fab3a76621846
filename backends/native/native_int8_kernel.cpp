#include "backends/native/native_int8_kernel.h"

#include <ATen/Parallel.h>

#include "backends/int8_chain.h"
#include "backends/native/u8_max_pool.h"
#include "common/error.h"

namespace qtune {

namespace {

using native::Int8Epilogue;
using native::Int8PackedWeights;
using native::Int8Source;
using native::Isa;

int64_t inputs_per_output(LayerKind kind, const Int8Layer& layer) {
  const std::vector<int64_t>& s = layer.weight.shape;
  return kind == LayerKind::kLinear ? s[1] : s[1] * s[2] * s[3];
}

// Where a call writes: fp32 outputs (the plain forward, or the last layer of
// a chain) or the next layer's u8 input codes (int8_chain.h), the latter
// made by the GEMM's epilogue from the fp32 value it would have stored.
struct Sink {
  const CodesOutput* next = nullptr;  ///< null: fp32 outputs
  at::ScalarType dtype() const { return next ? at::kByte : at::kFloat; }
};

class NativeInt8Kernel final : public Int8Kernel, public Int8CodesKernel {
 public:
  NativeInt8Kernel(Isa isa, LayerKind kind, Int8Layer layer, const ConvGeometry& geometry)
      : Int8Kernel(std::move(layer)), isa_(isa), kind_(kind), geometry_(geometry) {
    const QuantizedWeight& w = layer_.weight;
    out_ = w.rows();
    groups_ = kind_ == LayerKind::kConv2d ? geometry_.groups : 1;
    at::Tensor codes = int8_weight_codes(w).reshape(w.shape);
    // Conv weights [o, c, kh, kw] in im2col's order (kh, kw, c): each tap
    // then reads a run of channels of the NHWC input.
    if (kind_ == LayerKind::kConv2d) codes = codes.permute({0, 2, 3, 1});
    codes = codes.reshape({out_, -1}).contiguous();
    k_ = codes.size(1);
    const int64_t per_group = out_ / groups_;
    for (int64_t g = 0; g < groups_; ++g)
      packed_.push_back(native::pack_int8(
          isa_, codes.narrow(0, g * per_group, per_group).contiguous().data_ptr<int8_t>(),
          per_group, k_));
    w_scale_ = int8_weight_scales(w).to(at::kDouble);
    if (layer_.bias) bias_ = layer_.bias->to(at::kDouble).contiguous();
  }

  at::Tensor forward(const at::Tensor& x) const override { return run(x, false); }
  at::Tensor forward_relu(const at::Tensor& x) const override { return run(x, true); }
  std::string backend() const override { return "native"; }
  std::string backend_detail() const override {
    return "native:" + native::to_string(isa_) + "/int8";
  }

  at::Tensor forward_codes(const at::Tensor& codes, const CodesOutput& out) const override {
    const std::string where = "native int8 " + to_string(kind_);
    check_codes_call(kind_, codes, out, where);
    check_codes_layer(layer_, where);
    if (kind_ == LayerKind::kLinear) return linear_from_codes(codes, out.relu, Sink{&out});
    check_conv_input(codes, "input codes");
    const at::Tensor y = conv_from_codes(codes.contiguous(at::MemoryFormat::ChannelsLast),
                                         static_params(), out.relu, Sink{&out});
    return out.max_pool > 1 ? max_pool(y, out.max_pool) : y;
  }

  at::Tensor forward_from_codes(const at::Tensor& codes, bool relu) const override {
    const std::string where = "native int8 " + to_string(kind_);
    check_codes_call(kind_, codes, CodesOutput{}, where);
    check_codes_layer(layer_, where);
    if (kind_ == LayerKind::kLinear) return linear_from_codes(codes, relu, Sink{});
    check_conv_input(codes, "input codes");
    return conv_from_codes(codes.contiguous(at::MemoryFormat::ChannelsLast), static_params(), relu,
                           Sink{});
  }

 private:
  at::Tensor run(const at::Tensor& x, bool relu) const {
    return kind_ == LayerKind::kLinear ? linear(x, relu) : conv(x, relu);
  }

  ActivationQParams static_params() const {
    return ActivationQParams{layer_.input.scale, layer_.input.zero_point};
  }

  at::Tensor linear(const at::Tensor& x, bool relu) const {
    QT_CHECK(x.dim() >= 1 && x.size(-1) == k_, "int8 Linear: expected input [..., ", k_, "], got ",
             x.sizes());
    const at::Tensor x2 = x.reshape({-1, k_});
    const ActivationQParams p = choose_activation_qparams(x2, layer_.input);
    const at::Tensor xq = quantize_activation(x2, p, layer_.input.is_signed).contiguous();
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_;
    return linear_rows(xq, p, relu, Sink{}).view(shape);
  }

  /// Codes [M, in], or [N, C, H, W] read as their flatten(1) in NCHW order.
  at::Tensor linear_from_codes(const at::Tensor& codes, bool relu, const Sink& sink) const {
    const at::Tensor c = codes.dim() == 4 ? codes.contiguous().view({codes.size(0), -1}) : codes;
    QT_CHECK(c.size(-1) == k_, "native int8 Linear: expected input codes [M, ", k_, "], got ",
             codes.sizes());
    return linear_rows(c.contiguous(), static_params(), relu, sink);
  }

  /// Codes xq [M, k] (contiguous) -> [M, out] in the sink's dtype.
  at::Tensor linear_rows(const at::Tensor& xq, const ActivationQParams& p, bool relu,
                         const Sink& sink) const {
    Int8Source src = source(xq, p);
    src.m = xq.size(0);
    src.lda = k_;
    at::Tensor y = at::empty({src.m, out_}, xq.options().dtype(sink.dtype()));
    multiply(src, p, relu, sink, y.data_ptr(), out_, 0);
    return y;
  }

  at::Tensor conv(const at::Tensor& x, bool relu) const {
    // NHWC codes: each im2col tap is a run of channels; the output comes back
    // channels-last, as the onednn backend's does.
    check_conv_input(x, "input");
    const at::Tensor xcl = x.to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
    const ActivationQParams p = choose_activation_qparams(xcl, layer_.input);
    const at::Tensor xq = quantize_activation(xcl, p, layer_.input.is_signed)
                              .contiguous(at::MemoryFormat::ChannelsLast);
    return conv_from_codes(xq, p, relu, Sink{});
  }

  void check_conv_input(const at::Tensor& x, const char* what) const {
    const int64_t c = layer_.weight.shape[1] * groups_;
    QT_CHECK(x.dim() == 4 && x.size(1) == c, "int8 Conv2d: expected ", what, " [N, ", c,
             ", H, W], got ", x.sizes());
  }

  /// Channels-last codes xq -> [N, out, OH, OW] channels-last in the sink's dtype.
  at::Tensor conv_from_codes(const at::Tensor& xq, const ActivationQParams& p, bool relu,
                             const Sink& sink) const {
    const std::vector<int64_t>& s = layer_.weight.shape;
    const int64_t kh = s[2], kw = s[3];
    const ConvGeometry& g = geometry_;
    Int8Source src = source(xq, p);
    src.conv = true;
    src.batch = xq.size(0);
    src.h = xq.size(2);
    src.w = xq.size(3);
    src.channels = s[1];
    src.channel_stride = s[1] * groups_;
    src.kh = kh;
    src.kw = kw;
    src.stride_h = g.stride[0];
    src.stride_w = g.stride[1];
    src.pad_h = g.padding[0];
    src.pad_w = g.padding[1];
    src.dilation_h = g.dilation[0];
    src.dilation_w = g.dilation[1];
    src.oh = (src.h + 2 * src.pad_h - src.dilation_h * (kh - 1) - 1) / src.stride_h + 1;
    src.ow = (src.w + 2 * src.pad_w - src.dilation_w * (kw - 1) - 1) / src.stride_w + 1;
    QT_CHECK(src.oh > 0 && src.ow > 0, "int8 Conv2d: input ", xq.sizes(),
             " is smaller than the kernel");
    src.m = src.batch * src.oh * src.ow;
    at::Tensor y =
        at::empty({src.batch, out_, src.oh, src.ow},
                  xq.options().dtype(sink.dtype()).memory_format(at::MemoryFormat::ChannelsLast));
    const int64_t per_group = out_ / groups_;
    const int64_t elem = y.element_size();
    for (int64_t grp = 0; grp < groups_; ++grp) {
      src.channel_offset = grp * s[1];
      multiply(src, p, relu, sink, static_cast<char*>(y.data_ptr()) + grp * per_group * elem, out_,
               grp);
    }
    return y;
  }

  /// max_pool2d(window k, stride k) of channels-last u8 codes.
  at::Tensor max_pool(const at::Tensor& codes, int64_t k) const {
    const int64_t n = codes.size(0), c = codes.size(1), h = codes.size(2), w = codes.size(3);
    at::Tensor out = at::empty({n, c, h / k, w / k},
                               codes.options().memory_format(at::MemoryFormat::ChannelsLast));
    const uint8_t* in = codes.data_ptr<uint8_t>();
    uint8_t* dst = out.data_ptr<uint8_t>();
    at::parallel_for(0, n * (h / k), 1, [&](int64_t r0, int64_t r1) {
      native::u8_max_pool_nhwc(in, h, w, c, k, dst, r0, r1);
    });
    return out;
  }

  Int8Source source(const at::Tensor& xq, const ActivationQParams& p) const {
    Int8Source src;
    src.data = static_cast<const uint8_t*>(xq.data_ptr());
    src.is_signed = layer_.input.is_signed;
    src.zero_point = p.zero_point;
    src.k = k_;
    return src;
  }

  // Rows are split among threads when there are many (convolutions, large
  // batches), output channels otherwise (a GEMV); k never is, so any split
  // gives the same bits. `out` is the first output of this group, fp32 or
  // u8 as the sink says, rows ldy elements apart.
  void multiply(const Int8Source& src, const ActivationQParams& p, bool relu, const Sink& sink,
                void* out, int64_t ldy, int64_t group) const {
    if (src.m == 0) return;
    const Int8PackedWeights& w = packed_[group];
    const int64_t per_group = w.n;
    const at::Tensor scale =
        (w_scale_.narrow(0, group * per_group, per_group) * static_cast<double>(p.scale))
            .contiguous();
    Int8Epilogue e;
    e.scale = scale.data_ptr<double>();
    e.bias = bias_.defined() ? bias_.data_ptr<double>() + group * per_group : nullptr;
    e.relu = relu;
    e.ldy = ldy;
    if (sink.next) {
      e.codes = static_cast<uint8_t*>(out);
      e.code_inv_scale = 1.0f / sink.next->scale;
      e.code_zero_point = sink.next->zero_point;
    } else {
      e.y = static_cast<float*>(out);
    }
    const int64_t tiles = (src.m + native::kInt8RowTile - 1) / native::kInt8RowTile;
    if (tiles >= 2 * at::get_num_threads()) {
      at::parallel_for(0, tiles, 1, [&](int64_t b, int64_t end) {
        native::int8_gemm(src, w, e, b * native::kInt8RowTile,
                          std::min(src.m, end * native::kInt8RowTile), 0, per_group);
      });
      return;
    }
    const int64_t nb = native::int8_n_block(isa_) * (isa_ == Isa::kRef ? 16 : 2);
    const int64_t blocks = (per_group + nb - 1) / nb;
    at::parallel_for(0, blocks, 1, [&](int64_t b, int64_t end) {
      native::int8_gemm(src, w, e, 0, src.m, b * nb, std::min(per_group, end * nb));
    });
  }

  Isa isa_;
  LayerKind kind_;
  ConvGeometry geometry_;
  int64_t out_ = 0, k_ = 0, groups_ = 1;
  std::vector<Int8PackedWeights> packed_;  ///< one per convolution group
  at::Tensor w_scale_;                     ///< f64 [out]
  at::Tensor bias_;                        ///< f64 [out] or undefined
};

}  // namespace

bool native_int8_supports(LayerKind kind, const Int8Layer& layer, std::string* reason) {
  if (reason) reason->clear();
  const int64_t k = inputs_per_output(kind, layer);
  if (k > native::kInt8MaxK) {
    if (reason)
      *reason = std::to_string(k) + " inputs per output overflow its int32 sums (at most " +
                std::to_string(native::kInt8MaxK) + ")";
    return false;
  }
  return true;
}

LayerKernelPtr make_native_int8_kernel_on(Isa isa, LayerKind kind, Int8Layer layer,
                                          const ConvGeometry& geometry) {
  check_int8_layer(kind, layer, "native int8 " + to_string(kind));
  std::string why;
  QT_CHECK(native_int8_supports(kind, layer, &why), "native int8 ", to_string(kind), ": ", why);
  return std::make_shared<const NativeInt8Kernel>(isa, kind, std::move(layer), geometry);
}

LayerKernelPtr make_native_int8_kernel(LayerKind kind, Int8Layer layer,
                                       const ConvGeometry& geometry) {
  return make_native_int8_kernel_on(native::active_isa(), kind, std::move(layer), geometry);
}

std::string native_int8_isa_description() {
  std::string why;
  const Isa isa = native::active_isa(&why);
  return "ISA " + native::to_string(isa) + " (" + why + ")";
}

}  // namespace qtune
