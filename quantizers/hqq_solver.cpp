#include "quantizers/hqq_solver.h"

#include <limits>

#include "common/error.h"

namespace qtune {

double lp_error(const at::Tensor& a, const at::Tensor& b, double p) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().pow(p).sum().item<double>();
}

QuantizedWeight hqq_quantize(const at::Tensor& w, const QuantSpec& spec, const HqqOptions& opt) {
  spec.validate();
  QT_CHECK(spec.dtype == DType::kInt && spec.scheme == Scheme::kAsym && spec.float_zero,
           "HQQ: expected an int asym spec with float zero points");
  QT_CHECK(opt.lp_norm > 0 && opt.lp_norm <= 1, "HQQ: lp_norm must be in (0, 1], got ",
           opt.lp_norm);
  QT_CHECK(opt.beta > 0 && opt.kappa >= 1 && opt.iters >= 0,
           "HQQ: need beta > 0, kappa >= 1, iters >= 0");
  const at::Tensor m = quant_matrix(w, spec);
  const int64_t R = m.size(0), C = m.size(1);
  const int64_t g = spec.effective_group_size(C), G = spec.groups_per_row(C);

  PackedParams sq, zq;
  QuantSpec scale_only = spec;
  scale_only.zero_quant = ParamQuant{};
  QuantParams p = QuantizedWeight::compress_params(compute_params(m, spec), scale_only, &sq, &zq);

  // [R, G, g] with the trailing partial group zero-padded; `valid` masks the pad
  // out of the zero-point means and the error.
  const at::Tensor W = at::constant_pad_nd(m, {0, G * g - C}, 0).reshape({R, G, g});
  at::Tensor valid = at::ones({1, G * g}, at::kFloat);
  if (G * g != C) valid.narrow(1, C, G * g - C).zero_();
  valid = valid.reshape({1, G, g});
  const at::Tensor count = valid.sum(-1, /*keepdim=*/true);
  // An 8-bit scale can decode to 0 (its group then dequantizes to 0 whatever
  // the codes); dividing by 1 there keeps the codes finite.
  const at::Tensor s_div = at::where(p.scale == 0, at::ones_like(p.scale), p.scale);
  const at::Tensor s = s_div.unsqueeze(-1);
  const double qmax = static_cast<double>(spec.qmax());
  const double lp = opt.lp_norm;

  at::Tensor z = p.zero.to(at::kFloat).unsqueeze(-1);
  at::Tensor best_z = z.clone();
  at::Tensor best_err = at::full({R, G, 1}, std::numeric_limits<float>::infinity());
  double beta = opt.beta, prev_total = std::numeric_limits<double>::infinity();
  for (int it = 0; it <= opt.iters; ++it) {
    const at::Tensor wq = at::clamp(at::round(W / s + z), 0, qmax);
    const at::Tensor diff = W - (wq - z) * s;
    const at::Tensor err = (diff.abs().pow(lp) * valid).sum(-1, /*keepdim=*/true);
    const at::Tensor better = err < best_err;
    best_z = at::where(better, z, best_z);
    best_err = at::where(better, err, best_err);
    const double total = err.sum().item<double>();
    // The reference stops as soon as the error stops falling.
    if (it == opt.iters || !(total < prev_total)) break;
    prev_total = total;
    // shrink_lp(x) = sign(x) * max(|x| - |x|^(p-1) / beta, 0)
    const at::Tensor a = diff.abs();
    const at::Tensor we = diff.sign() * at::relu(a - (a + 1e-8).pow(lp - 1) / beta);
    z = ((wq - (W - we) / s) * valid).sum(-1, /*keepdim=*/true) / count;
    beta *= opt.kappa;
  }

  p.zero = best_z.squeeze(-1).contiguous();
  QuantSpec zero_only = spec;
  zero_only.scale_quant = ParamQuant{};
  PackedParams unused;
  p.zero = QuantizedWeight::compress_params(p, zero_only, &unused, &zq).zero;
  const at::Tensor codes = quantize_codes(m, {s_div, p.zero}, spec);
  return QuantizedWeight::from_compressed(codes, p, spec, w.sizes().vec(), at::Tensor(),
                                          std::move(sq), std::move(zq));
}

}  // namespace qtune
