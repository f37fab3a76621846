#include "backends/native/native_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <vector>

#include "backends/native/repack.h"
#include "common/error.h"
#include "quant/packing.h"

namespace qtune {

namespace native {

// Linear, measured with bench_native (BM_NativePath, 2 threads, medians of 3
// interleaved repetitions, Intel Xeon with AVX-512 VNNI and AMX),
// int8-act / fma / dequant+gemm against fp32 ATen (OpenBLAS), int4 g32 sym:
//   AVX-512 VNNI, with int8_panel_avx512.cpp's GEMM from M = 12
//                 4096 x 4096   M = 32: 2.12 / 5.87 / 22.6 (fp32 8.48 ms);
//                               M = 128: 6.42 / 17.1 / 36.3 (18.9);
//                               M = 512: 24.7 / 62.7 / 71.9 (59.2);
//                 4096 x 14336  M = 128: 25.9 / 62.8 / 104 (66.8);
//                               M = 512: 88.3 / 221 / 242 (214);
//   AVX2 (QTUNE_MAX_ISA=avx2 with OPENBLAS_CORETYPE=Haswell, so that fp32 and
//   dequant+gemm run OpenBLAS's AVX2 GEMM too; load 2), with
//   int8_panel_avx2.cpp's GEMM from M = 16
//                 4096 x 4096   M = 32: 4.75 / 7.93 / 26.7 (10.7);
//                               M = 128: 17.8 / 25.5 / 38.6 (27.2);
//                               M = 512: 83.5 / 95.5 / 102 (91.0);
//                 4096 x 14336  M = 128: 65.0 / 91.6 / 124 (92.1);
//                               M = 512: 320 / 390 / 350 (311);
//   int8 per channel on AVX2: M = 32: 9.95 / 8.53 / 21.9; M = 512: 156 / 101 / 102.
//   asym int8 per channel on AVX-512 (its zero points keep it off the int8
//   GEMM), 4096 x 4096: M = 4: 1.29 / 1.43 (7.56); M = 16: 4.18 / 5.81;
//   M = 32: 8.49 / 7.91 (11.1); M = 128: 35.5 / 24.0 (24.3);
//   M = 512: 137 / 82.0 (73.2). Another run gave M = 16: 4.99 / 4.91 and
//   M = 32: 9.82 / 7.15: level at 16, fma ahead at 32 in both.
// With VNNI a vpdpbusd does 64 products where an FMA does 16, and the int8
// GEMM keeps them busy: int8-act serves every M, 2.4x fp32 at M = 512. On
// AVX2 4-bit codes let a block's products add up in int16 (8 vpmaddubsw, one
// vpmaddwd), and int8-act leads fma at every M too; int8 codes need a
// vpmaddwd per step there, and the fma loop (woq_float_*.cpp) is ahead above
// kInt8ActMaxM. That loop copies the activations per k-chunk and decodes its
// weight panel with in-register transposes, and matches or beats a tuned fp32
// GEMM on the decoded layer at every M. So a Linear never decodes whole, and
// its result never depends on the thread count. kS8 with zero points, asym
// int8, would need 9-bit differences in the int8 GEMM; its vpdpbusd tiles
// (woq_gemm_avx512.cpp) lead fma only up to M = 16, so it takes fma above,
// as int8 codes do on AVX2 above kInt8ActMaxM.
// A convolution's rows are output pixels (batch x H' x W', tens of thousands
// for a CNN batch) and its K is often a few taps, padded to whole blocks:
// there decoding the weights once for LibTorch's convolution spares the
// im2col copy and the padding (fmnist-cnn RTN W4 g32 at batch 256 through
// `qtune bench`: 12.2 ms that way, 58.2 ms with fma at every M), so convolutions
// keep dequant+gemm from kDequantizedMinM.
constexpr int64_t kInt8ActMaxM = 32;
constexpr int64_t kAsymInt8ActMaxM = 16;
constexpr int64_t kDequantizedMinM = 256;
constexpr int64_t kEveryM = std::numeric_limits<int64_t>::max();

// One band of the rule: `path` serves every M up to and including `max_m`.
struct Band {
  int64_t max_m;
  Path path;
};

// The rule, as bands of M in increasing order; choose_path and path_rule both
// read it, so the text in backend_detail cannot drift from the choice.
std::vector<Band> path_bands(LayerKind kind, CodeFormat format, bool zero_points, Isa isa) {
  if (kind == LayerKind::kConv2d) {
    if (!path_supports(Path::kInt8Activations, format))
      return {{kDequantizedMinM - 1, Path::kFloat}, {kEveryM, Path::kDequantized}};
    return {{kInt8ActMaxM, Path::kInt8Activations},
            {kDequantizedMinM - 1, Path::kFloat},
            {kEveryM, Path::kDequantized}};
  }
  if (!path_supports(Path::kInt8Activations, format)) return {{kEveryM, Path::kFloat}};
  // The int8 GEMMs (int8_panel_*.cpp): every integer format with VNNI but
  // asym int8, 4-bit codes on AVX2.
  if (isa == Isa::kAvx512 && !int8_gemm_serves(format, zero_points))
    return {{kAsymInt8ActMaxM, Path::kInt8Activations}, {kEveryM, Path::kFloat}};
  if (isa == Isa::kAvx512 || (isa == Isa::kAvx2 && format == CodeFormat::kU4))
    return {{kEveryM, Path::kInt8Activations}};
  return {{kInt8ActMaxM, Path::kInt8Activations}, {kEveryM, Path::kFloat}};
}

Path choose_path(LayerKind kind, int64_t m, CodeFormat format, bool zero_points, Isa isa) {
  for (const Band& band : path_bands(kind, format, zero_points, isa))
    if (m <= band.max_m) return band.path;
  QT_ASSERT(false, "the last band of a path rule covers every M");
  return Path::kFloat;
}

std::string path_rule(LayerKind kind, CodeFormat format, bool zero_points, Isa isa) {
  const std::vector<Band> bands = path_bands(kind, format, zero_points, isa);
  if (bands.size() == 1) return to_string(bands[0].path) + " (every M)";
  std::string rule;
  for (const Band& band : bands) {
    if (!rule.empty()) rule += ", ";
    rule += to_string(band.path) + (band.max_m == kEveryM
                                        ? std::string(" (larger M)")
                                        : " (M <= " + std::to_string(band.max_m) + ")");
  }
  return rule;
}

}  // namespace native

namespace {

// Rows per work item of the thread split: a multiple of every ISA's panel
// width, so a split never cuts a register tile. Any split gives the same
// result (rows are independent); this only sets the grain.
constexpr int64_t kRowChunk = 64;
class NativeKernel final : public LayerKernel {
 public:
  NativeKernel(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
               const ConvGeometry& geometry)
      : kind_(kind), bias_(std::move(bias)), geometry_(geometry) {
    packed_ = native::repack(w);
    // The packed form replaces the stored codes; everything else is kept to
    // rebuild the stored form (fp16 d cannot give the fp32 scales back).
    stored_words_ = w.packed.numel();
    meta_ = std::move(w);
    meta_.packed = at::Tensor();
    isa_ = native::active_isa(&isa_reason_);
    kernels_ = &native::kernels_for(isa_);
    if (bias_) bias_ = bias_->to(at::kFloat).contiguous();
  }

  at::Tensor forward(const at::Tensor& x) const override {
    QT_CHECK(x.scalar_type() == at::kFloat, "native ", to_string(kind_),
             ": expected a float32 input, got ", x.scalar_type());
    return kind_ == LayerKind::kLinear ? linear(x) : conv2d(x);
  }

  std::string backend() const override { return "native"; }
  std::string backend_detail() const override {
    return "native:" + native::to_string(isa_) + "/" +
           native::path_rule(kind_, packed_.format, packed_.has_zero, isa_) + " [" + isa_reason_ +
           "]";
  }

  const QuantizedWeight* quantized_weight() const override { return &stored(); }

  std::map<std::string, at::Tensor> tensors() const override {
    std::map<std::string, at::Tensor> t = stored().tensors();
    if (bias_) t["bias"] = *bias_;
    return t;
  }

  int64_t storage_bytes() const override {
    // meta_ lacks the codes: add the int32 words they take when stored.
    int64_t bytes = meta_.storage_bytes() + stored_words_ * static_cast<int64_t>(sizeof(int32_t));
    if (bias_) bytes += bias_->numel() * bias_->element_size();
    return bytes;
  }

 private:
  /// The stored form, rebuilt from the packed codes on first use (saving a
  /// model is rare; until then the codes exist once, packed).
  const QuantizedWeight& stored() const {
    std::call_once(stored_once_, [this] { stored_ = native::unpack(packed_, meta_); });
    return stored_;
  }

  /// Rows [r0, r1) of the fp32 weights into out [r1 - r0, cols], decoded in
  /// 64-row chunks over the intra-op threads; each value is the same for any
  /// split.
  void decode_into(int64_t r0, int64_t r1, float* out) const {
    const int64_t chunks = (r1 - r0 + kRowChunk - 1) / kRowChunk;
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      const int64_t lo = r0 + c0 * kRowChunk, hi = std::min(r1, r0 + c1 * kRowChunk);
      kernels_->decode_rows(packed_, lo, hi, out + (lo - r0) * packed_.cols);
    });
  }

  /// The fp32 weights [rows, cols] (kDequantized for a convolution), in a
  /// buffer of the calling thread reused by every layer it runs, grown to the
  /// largest: no allocation per call once warm, and concurrent forwards (each
  /// on its own thread) never share it. Valid until this thread's next call.
  const at::Tensor& decoded() const {
    static thread_local at::Tensor w;
    if (!w.defined()) w = at::empty({0}, at::kFloat);
    w.resize_({packed_.rows, packed_.cols});
    decode_into(0, packed_.rows, w.data_ptr<float>());
    return w;
  }

  at::Tensor bias_or_undefined() const { return bias_ ? *bias_ : at::Tensor(); }

  /// y[i, r0 .. r1) = x[i, :] · W[r, :]ᵀ + bias for M rows of x (row stride ldx).
  void gemm(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, int64_t r0,
            int64_t r1) const {
    if (m == 0 || r0 == r1) return;
    const native::Path path = native::choose_path(kind_, m, packed_.format, packed_.has_zero, isa_);
    // One buffer per calling thread, grown to the largest shape seen: no
    // allocation per call once warm. Workers read it through `a` (a
    // thread_local named inside the lambda would be each worker's own).
    static thread_local native::PreparedActivations prepared;
    native::PreparedActivations& a = prepared;
    kernels_->prepare(packed_, x, m, ldx, path, &a);
    const float* bias = bias_ ? bias_->data_ptr<float>() : nullptr;
    const int64_t chunks = (r1 - r0 + kRowChunk - 1) / kRowChunk;
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      const int64_t lo = r0 + c0 * kRowChunk, hi = std::min(r1, r0 + c1 * kRowChunk);
      kernels_->gemm_rows(packed_, a, path, bias, y, ldy, lo, hi);
    });
  }

  at::Tensor linear(const at::Tensor& x) const {
    const int64_t K = packed_.cols, N = packed_.rows;
    QT_CHECK(x.dim() >= 1 && x.size(-1) == K, "native Linear: expected an input [..., ", K,
             "], got ", x.sizes());
    const at::Tensor x2 = x.reshape({-1, K}).contiguous();
    const int64_t M = x2.size(0);
    at::Tensor y = at::empty({M, N}, x.options());
    gemm(x2.data_ptr<float>(), M, K, y.data_ptr<float>(), N, 0, N);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = N;
    return y.view(shape);
  }

  at::Tensor conv2d(const at::Tensor& x) const {
    const std::vector<int64_t>& ws = meta_.shape;  // [O, C / groups, kh, kw]
    const int64_t groups = geometry_.groups, O = ws[0], Cg = ws[1], kh = ws[2], kw = ws[3];
    QT_CHECK(x.dim() == 4 && x.size(1) == Cg * groups, "native Conv2d: expected an input [N, ",
             Cg * groups, ", H, W], got ", x.sizes());
    const int64_t N = x.size(0);
    const auto& st = geometry_.stride;
    const auto& pd = geometry_.padding;
    const auto& dl = geometry_.dilation;
    const int64_t OH = (x.size(2) + 2 * pd[0] - dl[0] * (kh - 1) - 1) / st[0] + 1;
    const int64_t OW = (x.size(3) + 2 * pd[1] - dl[1] * (kw - 1) - 1) / st[1] + 1;
    QT_CHECK(OH > 0 && OW > 0, "native Conv2d: input ", x.sizes(), " is smaller than the kernel");
    if (native::choose_path(kind_, N * OH * OW, packed_.format, packed_.has_zero, isa_) ==
        native::Path::kDequantized)
      return at::conv2d(x, decoded().view(ws), bias_or_undefined(), st, pd, dl, groups);
    const int64_t L = OH * OW, CK = Cg * groups * kh * kw, Kg = Cg * kh * kw, Og = O / groups;
    // im2col gives [N, C*kh*kw, L] (column order c, i, j: the weight's flattening);
    // the GEMM wants one row of K values per output pixel. Both buffers are
    // reused per thread.
    static thread_local at::Tensor cols, rows;
    if (!cols.defined()) cols = at::empty({0}, x.options());
    if (!rows.defined()) rows = at::empty({0}, x.options());
    at::im2col_out(cols, x.contiguous(), {kh, kw}, dl, pd, st);
    rows.resize_({N, L, CK});
    rows.copy_(cols.transpose(1, 2));
    at::Tensor y = at::empty({N * L, O}, x.options());
    for (int64_t g = 0; g < groups; ++g)
      gemm(rows.data_ptr<float>() + g * Kg, N * L, CK, y.data_ptr<float>(), O, g * Og,
           (g + 1) * Og);
    return y.view({N, L, O}).permute({0, 2, 1}).reshape({N, O, OH, OW}).contiguous();
  }

  LayerKind kind_;
  native::PackedWeight packed_;
  QuantizedWeight meta_;  ///< the stored form without its codes
  int64_t stored_words_ = 0;
  std::optional<at::Tensor> bias_;
  ConvGeometry geometry_;
  native::Isa isa_ = native::Isa::kRef;
  std::string isa_reason_;
  const native::IsaKernels* kernels_ = nullptr;
  mutable std::once_flag stored_once_;
  mutable QuantizedWeight stored_;
};

}  // namespace

bool native_layer_supports(LayerKind kind, const QuantSpec& spec, std::string* reason) {
  if (reason) reason->clear();
  return native::native_supports(spec, reason);
}

LayerKernelPtr make_native_kernel(LayerKind kind, QuantizedWeight w, std::optional<at::Tensor> bias,
                                  const ConvGeometry& geometry) {
  const size_t dims = kind == LayerKind::kLinear ? 2 : 4;
  QT_CHECK(w.shape.size() == dims, "native ", to_string(kind), " layer: expected a ", dims,
           "-D weight, got shape ", at::IntArrayRef(w.shape));
  QT_CHECK(!bias || (bias->dim() == 1 && bias->size(0) == w.rows()), "native ", to_string(kind),
           " layer: expected a bias of shape [", w.rows(), "], got ",
           bias ? bias->sizes() : at::IntArrayRef{});
  if (kind == LayerKind::kConv2d) {
    QT_CHECK(geometry.groups >= 1 && w.rows() % geometry.groups == 0, "native Conv2d: ", w.rows(),
             " output channels do not split into ", geometry.groups, " groups");
    QT_CHECK(geometry.stride.size() == 2 && geometry.padding.size() == 2 &&
                 geometry.dilation.size() == 2,
             "native Conv2d: expected 2 values each for stride, padding and dilation, got ",
             geometry.stride.size(), ", ", geometry.padding.size(), ", ", geometry.dilation.size());
  }
  std::string why;
  QT_CHECK(native::native_supports(w.spec, &why), "native ", to_string(kind),
           " layer: unsupported quantization: ", why);
  return std::make_shared<const NativeKernel>(kind, std::move(w), std::move(bias), geometry);
}

}  // namespace qtune
