#include "backends/native/native_int8_kernel.h"

#include <ATen/Parallel.h>

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

class NativeInt8Kernel final : public Int8Kernel {
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

 private:
  at::Tensor run(const at::Tensor& x, bool relu) const {
    return kind_ == LayerKind::kLinear ? linear(x, relu) : conv(x, relu);
  }

  at::Tensor linear(const at::Tensor& x, bool relu) const {
    QT_CHECK(x.dim() >= 1 && x.size(-1) == k_, "int8 Linear: expected input [..., ", k_, "], got ",
             x.sizes());
    const at::Tensor x2 = x.reshape({-1, k_});
    const ActivationQParams p = choose_activation_qparams(x2, layer_.input);
    const at::Tensor xq = quantize_activation(x2, p, layer_.input.is_signed).contiguous();
    Int8Source src = source(xq, p);
    src.m = x2.size(0);
    src.lda = k_;
    at::Tensor y = at::empty({src.m, out_}, x2.options().dtype(at::kFloat));
    multiply(src, p, relu, y.data_ptr<float>(), out_, 0);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_;
    return y.view(shape);
  }

  at::Tensor conv(const at::Tensor& x, bool relu) const {
    const std::vector<int64_t>& s = layer_.weight.shape;
    const int64_t c = s[1] * groups_, kh = s[2], kw = s[3];
    QT_CHECK(x.dim() == 4 && x.size(1) == c, "int8 Conv2d: expected input [N, ", c, ", H, W], got ",
             x.sizes());
    // NHWC codes: each im2col tap is a run of channels; the output comes back
    // channels-last, as the onednn backend's does.
    const at::Tensor xcl = x.to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
    const ActivationQParams p = choose_activation_qparams(xcl, layer_.input);
    const at::Tensor xq = quantize_activation(xcl, p, layer_.input.is_signed)
                              .contiguous(at::MemoryFormat::ChannelsLast);
    const ConvGeometry& g = geometry_;
    Int8Source src = source(xq, p);
    src.conv = true;
    src.batch = x.size(0);
    src.h = x.size(2);
    src.w = x.size(3);
    src.channels = s[1];
    src.channel_stride = c;
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
    QT_CHECK(src.oh > 0 && src.ow > 0, "int8 Conv2d: input ", x.sizes(),
             " is smaller than the kernel");
    src.m = src.batch * src.oh * src.ow;
    at::Tensor y =
        at::empty({src.batch, out_, src.oh, src.ow},
                  x.options().dtype(at::kFloat).memory_format(at::MemoryFormat::ChannelsLast));
    const int64_t per_group = out_ / groups_;
    for (int64_t grp = 0; grp < groups_; ++grp) {
      src.channel_offset = grp * s[1];
      multiply(src, p, relu, y.data_ptr<float>() + grp * per_group, out_, grp);
    }
    return y;
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
  // gives the same bits.
  void multiply(const Int8Source& src, const ActivationQParams& p, bool relu, float* y, int64_t ldy,
                int64_t group) const {
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
    e.y = y;
    e.ldy = ldy;
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
