// The vectorized quantizer against a plain per-element twin of INC's
// qdq_weight_sym / qdq_weight_asym (same float arithmetic, so codes and
// params compare exactly), plus the properties any quantizer must have.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "quant/quantize.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 20240611;

struct RefResult {
  std::vector<float> scale;  // [rows * groups] (per-tensor: 1)
  std::vector<int> zero;
  std::vector<int> codes;  // [rows * cols]
};

/// One group's params from its own values, INC's formulas in float.
void ref_params(const std::vector<float>& v, const QuantSpec& s, float* scale, int* zero) {
  float mx = -INFINITY, mn = INFINITY;
  for (float x : v) mx = std::max(mx, x), mn = std::min(mn, x);
  const float clip = static_cast<float>(s.clip_ratio);
  if (s.scheme == Scheme::kSym) {
    const float amax = std::max(std::fabs(mx), std::fabs(mn)) * clip;
    float sc;
    if (s.full_range || s.bits == 1) {
      sc = amax / static_cast<float>(-s.qmin());
      if (mx > 0 && std::fabs(mx) >= std::fabs(mn)) sc = -sc;  // see quantize.cpp
    } else {
      sc = amax / static_cast<float>(s.qmax());
    }
    *scale = amax == 0 ? 1.0f : sc;
    *zero = 0;
  } else {
    const float lo = std::min(mn, 0.0f) * clip, hi = std::max(mx, 0.0f) * clip;
    const float range = hi - lo;
    *scale = range == 0 ? 1.0f : range / static_cast<float>(s.qmax());
    *zero = static_cast<int>(
        std::clamp<float>(std::nearbyint(-lo / *scale), 0, static_cast<float>(s.qmax())));
  }
}

RefResult ref_quantize(const std::vector<float>& w, int64_t rows, int64_t cols,
                       const QuantSpec& s) {
  RefResult r;
  r.codes.resize(rows * cols);
  const int64_t g = s.granularity == Granularity::kPerGroup ? s.group_size : cols;
  if (s.granularity == Granularity::kPerTensor) {
    r.scale.resize(1);
    r.zero.resize(1);
    ref_params(w, s, &r.scale[0], &r.zero[0]);
  }
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t c0 = 0; c0 < cols; c0 += g) {
      const int64_t c1 = std::min(cols, c0 + g);
      float sc;
      int zp;
      if (s.granularity == Granularity::kPerTensor) {
        sc = r.scale[0], zp = r.zero[0];
      } else {
        ref_params(std::vector<float>(w.begin() + i * cols + c0, w.begin() + i * cols + c1), s, &sc,
                   &zp);
        r.scale.push_back(sc);
        r.zero.push_back(zp);
      }
      for (int64_t j = c0; j < c1; ++j) {
        float q = std::nearbyint(w[i * cols + j] / sc);  // half to even
        if (s.scheme == Scheme::kAsym) q += static_cast<float>(zp);
        q = std::clamp<float>(q, static_cast<float>(s.qmin()), static_cast<float>(s.qmax()));
        r.codes[i * cols + j] = static_cast<int>(q);
      }
    }
  }
  return r;
}

template <typename T>
std::vector<T> vec(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

std::vector<QuantSpec> all_specs() {
  std::vector<QuantSpec> specs;
  for (int bits = 1; bits <= 8; ++bits) {
    for (Scheme scheme : {Scheme::kSym, Scheme::kAsym}) {
      for (bool full : {false, true}) {
        if (full && scheme == Scheme::kAsym) continue;
        for (int64_t g : {-2, -1, 1, 3, 8, 32}) {  // -2 = per tensor, -1 = per channel
          for (double clip : {1.0, 0.9}) {
            QuantSpec s;
            s.bits = bits;
            s.scheme = scheme;
            s.full_range = full;
            s.clip_ratio = clip;
            s.granularity = g == -2   ? Granularity::kPerTensor
                            : g == -1 ? Granularity::kPerChannel
                                      : Granularity::kPerGroup;
            s.group_size = g > 0 ? g : 32;
            specs.push_back(s);
          }
        }
      }
    }
  }
  return specs;
}

std::string describe(const QuantSpec& s) {
  return "bits=" + std::to_string(s.bits) + " " + to_string(s.scheme) +
         " gran=" + std::to_string(static_cast<int>(s.granularity)) +
         " g=" + std::to_string(s.group_size) + " full=" + std::to_string(s.full_range) +
         " clip=" + std::to_string(s.clip_ratio) + " seed=" + std::to_string(kSeed);
}

TEST(QuantizeReference, MatchesPlainTwinExactly) {
  at::manual_seed(kSeed);
  for (const auto& [rows, cols] :
       std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 7}, {4, 17}, {2, 33}, {5, 64}}) {
    at::Tensor w = at::randn({rows, cols});
    w.index_put_({0, 0}, 0.0);  // an exact zero in every matrix
    const std::vector<float> wv = vec<float>(w);
    for (const QuantSpec& s : all_specs()) {
      const RefResult ref = ref_quantize(wv, rows, cols, s);
      const QuantParams p = compute_params(w, s);
      const at::Tensor q = quantize_codes(w, p, s);
      ASSERT_EQ(vec<float>(p.scale), ref.scale) << describe(s) << " " << rows << "x" << cols;
      ASSERT_EQ(vec<int>(p.zero), ref.zero) << describe(s);
      ASSERT_EQ(vec<int>(q), ref.codes) << describe(s) << " " << rows << "x" << cols;
    }
  }
}

// Float rounding of w/scale and q*scale: a few ulps of the largest |w|.
constexpr double kUlpSlack = 1e-6;

TEST(QuantizeProperties, ErrorWithinHalfAScaleInsideTheRange) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({16, 100});
  const double wmax = w.abs().max().item<double>();
  for (const QuantSpec& s : all_specs()) {
    if (s.clip_ratio != 1.0) continue;  // clipping leaves values outside the range
    const QuantParams p = compute_params(w, s);
    const at::Tensor q = quantize_codes(w, p, s);
    const at::Tensor wq = dequantize_codes(q, p, s);
    // Per-column scale and zero, to find each element's representable range.
    const int64_t g = s.effective_group_size(w.size(1));
    const at::Tensor sc = p.scale.expand({w.size(0), -1}).repeat_interleave(g, 1).narrow(1, 0, 100);
    const at::Tensor zp =
        p.zero.expand({w.size(0), -1}).repeat_interleave(g, 1).narrow(1, 0, 100).to(at::kFloat);
    const at::Tensor a = (s.qmin() - zp) * sc, b = (s.qmax() - zp) * sc;
    // Half a step beyond the end codes still rounds (or clamps) to within s/2.
    const at::Tensor half = sc.abs() / 2;
    const at::Tensor inside = (w >= at::minimum(a, b) - half) & (w <= at::maximum(a, b) + half);
    const int64_t n_inside = inside.sum().item<int64_t>();
    // Guard against a vacuous pass. Sym and asym ranges (with the half step)
    // contain every value; full_range reaches only (2^(b-1)-1)/2^(b-1) of the
    // absmax on the non-dominant side (half at 2 bits), 1-bit sym only its
    // dominant side.
    const int64_t min_inside = s.bits == 1    ? w.numel() / 4
                               : s.full_range ? w.numel() / 2
                                              : w.numel() * 9 / 10;
    ASSERT_GT(n_inside, min_inside) << describe(s);
    const at::Tensor err = (w - wq).abs();
    const at::Tensor bound = half + kUlpSlack * wmax;
    EXPECT_TRUE((err <= bound).logical_or(inside.logical_not()).all().item<bool>())
        << describe(s) << " max excess "
        << (err - bound).masked_select(inside).max().item<double>();
  }
}

TEST(QuantizeProperties, FakeQuantizeIsIdempotent) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({8, 70});
  for (const QuantSpec& s : all_specs()) {
    if (s.clip_ratio != 1.0) continue;  // clipping shrinks again on every pass
    const at::Tensor once = fake_quantize(w, s);
    const at::Tensor twice = fake_quantize(once, s);
    // Recomputed scales differ from the first ones by float rounding only.
    EXPECT_TRUE(at::allclose(once, twice, /*rtol=*/1e-5, /*atol=*/1e-6)) << describe(s);
    const QuantParams p1 = compute_params(w, s), p2 = compute_params(once, s);
    EXPECT_TRUE(at::equal(quantize_codes(w, p1, s), quantize_codes(once, p2, s))) << describe(s);
  }
}

TEST(QuantizeProperties, AcceptsConvShapedWeights) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({4, 3, 3, 3});
  QuantSpec s;
  s.group_size = 8;
  const at::Tensor fq = fake_quantize(w, s);
  EXPECT_EQ(fq.sizes(), w.sizes());
  EXPECT_TRUE(at::equal(fq.reshape({4, 27}), fake_quantize(w.reshape({4, 27}), s)));
}

}  // namespace
}  // namespace qtune
