#include "quantizers/gptq_solver.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace qtune {

HessianAccumulator::HessianAccumulator(int64_t cols) : h_(at::zeros({cols, cols}, at::kFloat)) {}

void HessianAccumulator::add(const at::Tensor& x) {
  QT_CHECK(x.dim() == 2 && x.size(1) == h_.size(0), "GPTQ: layer input of shape ", x.sizes(),
           " does not match ", h_.size(0), " weight columns");
  const int64_t m = x.size(0);
  if (m == 0) return;
  const at::Tensor xf = x.to(at::kFloat).contiguous();
  // H <- H * n/(n+m) + 2/(n+m) X^T X in one BLAS call.
  const double beta = static_cast<double>(n_) / static_cast<double>(n_ + m);
  const double alpha = 2.0 / static_cast<double>(n_ + m);
  h_.addmm_(xf.t(), xf, beta, alpha);
  n_ += m;
}

namespace {

/// U with U^T U = H^-1 (upper Cholesky of the inverse), or undefined if H is
/// not positive definite in this precision.
at::Tensor try_inverse_upper(const at::Tensor& h) {
  auto [l, info] = at::linalg_cholesky_ex(h);
  if (info.item<int64_t>() != 0) return at::Tensor();
  const at::Tensor inv = at::cholesky_inverse(l);
  auto [u, info2] = at::linalg_cholesky_ex(inv, /*upper=*/true);
  if (info2.item<int64_t>() != 0 || !at::isfinite(u).all().item<bool>()) return at::Tensor();
  return u;
}

/// One weight value through the layer's quantizer, exactly as quantize.cpp
/// computes it (same float operations, round-half-even), so the codes GPTQ
/// picks are the codes dequantize() reads.
struct ElementQuantizer {
  DType dtype = DType::kInt;
  bool asym = false;
  float qmin = 0, qmax = 0;
  std::vector<float> table, mids;

  explicit ElementQuantizer(const QuantSpec& spec)
      : dtype(spec.dtype),
        asym(spec.scheme == Scheme::kAsym),
        qmin(static_cast<float>(spec.qmin())),
        qmax(static_cast<float>(spec.qmax())),
        table(dtype_table(spec.dtype)) {
    for (size_t i = 0; i + 1 < table.size(); ++i) mids.push_back((table[i] + table[i + 1]) / 2);
  }

  int32_t operator()(float w, float s, float z, float* deq) const {
    if (dtype != DType::kInt) {
      const float v = w / s;
      size_t i = 0;
      while (i < mids.size() && v > mids[i]) ++i;  // ties to the lower value, as INC
      *deq = table[i] * s;
      return static_cast<int32_t>(i);
    }
    float q = std::nearbyint(w / s);
    if (asym) q += z;
    q = std::min(std::max(q, qmin), qmax);
    *deq = asym ? (q - z) * s : q * s;
    return static_cast<int32_t>(q);
  }
};

}  // namespace

at::Tensor gptq_inverse_hessian(const at::Tensor& h, double percdamp, double* percdamp_used,
                                bool* float64) {
  const double mean_diag = h.diagonal().mean().item<double>();
  double damp = percdamp;
  for (int attempt = 0; attempt < 5; ++attempt, damp *= 10) {
    at::Tensor hd = h.clone();
    hd.diagonal().add_(damp * mean_diag);
    at::Tensor u = try_inverse_upper(hd);
    bool wide = false;
    // fp32 Cholesky fails on ill-conditioned H (GPTQ's "not positive-definite");
    // double precision often succeeds without distorting H further.
    if (!u.defined()) {
      u = try_inverse_upper(hd.to(at::kDouble));
      wide = u.defined();
      if (wide) u = u.to(at::kFloat);
    }
    if (u.defined()) {
      if (percdamp_used) *percdamp_used = damp;
      if (float64) *float64 = wide;
      return u.contiguous();
    }
  }
  throw Error("GPTQ: the Hessian is not positive definite even with percdamp " +
              std::to_string(damp / 10) +
              " in double precision (too few or degenerate "
              "calibration inputs?)");
}

GptqResult gptq_quantize(const at::Tensor& w, const at::Tensor& h, const QuantSpec& spec,
                         const GptqOptions& opt, std::vector<int64_t> shape) {
  spec.validate();
  QT_CHECK(spec.group_dim == 1, "GPTQ: group_dim must be 1 (groups along input channels), got ",
           spec.group_dim);
  QT_CHECK(spec.granularity != Granularity::kPerTensor, "GPTQ: per-tensor scales unsupported");
  QT_CHECK(!spec.float_zero && !spec.has_g_idx, "GPTQ: unsupported spec (float zero / g_idx)");
  QT_CHECK(opt.block_size >= 1, "GPTQ: block_size must be >= 1, got ", opt.block_size);
  QT_CHECK(opt.percdamp > 0, "GPTQ: percdamp must be > 0, got ", opt.percdamp);
  QT_CHECK(w.dim() == 2, "GPTQ: expected a 2-D weight, got ", w.sizes());
  const int64_t R = w.size(0), C = w.size(1);
  QT_CHECK(h.dim() == 2 && h.size(0) == C && h.size(1) == C, "GPTQ: Hessian of shape ", h.sizes(),
           " does not match ", C, " weight columns");

  at::Tensor W = w.detach().to(at::kFloat).clone().contiguous();
  at::Tensor H = h.to(at::kFloat).clone();
  // A column no calibration token ever touched cannot affect the output.
  const at::Tensor dead = H.diagonal() == 0;
  H.diagonal().masked_fill_(dead, 1);
  W.masked_fill_(dead.unsqueeze(0), 0);

  const bool per_channel = spec.granularity == Granularity::kPerChannel;
  const int64_t g = spec.effective_group_size(C);
  const int64_t G = spec.groups_per_row(C);
  QuantSpec slice_spec = spec;
  slice_spec.granularity = Granularity::kPerChannel;

  at::Tensor scale = at::empty({R, G}, at::kFloat);
  at::Tensor zero = at::zeros({R, G}, at::kFloat);
  if (per_channel || opt.static_groups) {
    const QuantParams p = compute_params(W, spec);
    scale.copy_(p.scale);
    zero.copy_(p.zero.to(at::kFloat));
  }

  at::Tensor perm;
  if (opt.act_order) {
    perm = std::get<1>(at::sort(H.diagonal(), /*stable=*/true, /*dim=*/0, /*descending=*/true));
    W = W.index_select(1, perm).contiguous();
    H = H.index_select(0, perm).index_select(1, perm);
  }
  // The group whose params column position `pos` uses.
  std::vector<int64_t> group_of(C, 0);
  if (!per_channel) {
    const int64_t* pp = perm.defined() ? perm.data_ptr<int64_t>() : nullptr;
    for (int64_t pos = 0; pos < C; ++pos)
      group_of[pos] = (opt.static_groups && pp ? pp[pos] : pos) / g;
  }

  GptqResult result;
  const at::Tensor hinv =
      gptq_inverse_hessian(H, opt.percdamp, &result.percdamp_used, &result.float64);
  H = at::Tensor();

  at::Tensor codes = at::empty({R, C}, at::kInt);
  const ElementQuantizer quant(spec);
  float* wp = W.data_ptr<float>();
  int32_t* cp = codes.data_ptr<int32_t>();
  const float* hp = hinv.data_ptr<float>();
  for (int64_t i1 = 0; i1 < C; i1 += opt.block_size) {
    const int64_t i2 = std::min(i1 + opt.block_size, C), cnt = i2 - i1;
    if (!per_channel && !opt.static_groups) {
      for (int64_t gs = (i1 + g - 1) / g * g; gs < i2; gs += g) {
        const QuantParams p = compute_params(W.narrow(1, gs, std::min(g, C - gs)), slice_spec);
        scale.select(1, gs / g).copy_(p.scale.select(1, 0));
        zero.select(1, gs / g).copy_(p.zero.select(1, 0).to(at::kFloat));
      }
    }
    at::Tensor err = at::empty({R, cnt}, at::kFloat);
    float* ep = err.data_ptr<float>();
    const float* sp = scale.data_ptr<float>();
    const float* zp = zero.data_ptr<float>();
    // Rows are independent (each has its own params and error), so the whole
    // column sweep runs row-parallel on contiguous row segments.
    at::parallel_for(0, R, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* wr = wp + r * C + i1;
        float* er = ep + r * cnt;
        for (int64_t i = 0; i < cnt; ++i) {
          const int64_t col = i1 + i;
          const int64_t gi = group_of[col];
          float deq;
          cp[r * C + col] = quant(wr[i], sp[r * G + gi], zp[r * G + gi], &deq);
          const float* hrow = hp + col * C + i1;
          const float e = (wr[i] - deq) / hrow[i];
          er[i] = e;
          for (int64_t j = i + 1; j < cnt; ++j) wr[j] -= e * hrow[j];
        }
      }
    });
    if (i2 < C)
      W.narrow(1, i2, C - i2).addmm_(err, hinv.narrow(0, i1, cnt).narrow(1, i2, C - i2), 1.0, -1.0);
  }

  QuantSpec out = spec;
  at::Tensor g_idx;
  if (opt.act_order) {
    const at::Tensor invperm = at::argsort(perm);
    codes = codes.index_select(1, invperm);
    // Groups were formed in act order: column c is at position invperm[c].
    if (!per_channel && !opt.static_groups) {
      out.has_g_idx = true;
      g_idx = at::div(invperm, g, "floor").to(at::kInt);
    }
  }
  const at::Tensor zero_out = zero.to(at::kInt);
  result.weight =
      QuantizedWeight::from_codes(codes, {scale, zero_out}, out, std::move(shape), g_idx);
  return result;
}

}  // namespace qtune
