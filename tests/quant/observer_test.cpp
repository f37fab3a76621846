// Activation observers against hand-worked values and a plain KL reference.
#include "quant/observer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "support/expect_error.h"

namespace qtune {
namespace {

using qtune::testing::expect_error;

Observer observed(ObserverKind kind, const std::vector<at::Tensor>& batches, bool sym = false,
                  double percentile = 99.999) {
  ObserverOptions o;
  o.kind = kind;
  o.sym = sym;
  o.percentile = percentile;
  Observer obs(o);
  for (const at::Tensor& b : batches) obs.observe(b);
  return obs;
}

TEST(ActParams, HandWorkedU8AndS8) {
  // [-1, 3]: scale 4/255, zero round(1 / (4/255)) = round(63.75) = 64.
  ActParams p = act_params_from_range(-1, 3, /*sym=*/false);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 64);
  EXPECT_FALSE(p.is_signed);
  // A range above zero is widened to contain it, so 0.0 stays exact.
  p = act_params_from_range(0.5, 2, false);
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 0);
  p = act_params_from_range(-4, -1, false);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 255);
  // s8: the larger magnitude maps to 127.
  p = act_params_from_range(-2, 1, /*sym=*/true);
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 127.0f);
  EXPECT_EQ(p.zero_point, 0);
  EXPECT_TRUE(p.is_signed);
  // All zeros: scale 1, not a division by zero.
  p = act_params_from_range(0, 0, false);
  EXPECT_FLOAT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero_point, 0);
  expect_error([] { act_params_from_range(2, 1, false); }, "min <= max");
}

TEST(ActParams, FakeQuantizeRoundsHalfToEvenAndClamps) {
  ActParams p;
  p.scale = 0.5f;
  p.zero_point = 10;
  // 1.25/0.5 = 2.5 -> 2 (even) -> code 12 -> 1.0;  0.75/0.5 = 1.5 -> 2 -> 1.0;
  // -10 -> code -10 clamps to 0 -> -5;  200 -> code 410 clamps to 255 -> 122.5.
  const at::Tensor x = at::tensor({1.25f, 0.75f, -10.0f, 200.0f});
  const at::Tensor want = at::tensor({1.0f, 1.0f, -5.0f, 122.5f});
  EXPECT_TRUE(at::equal(fake_quantize_activation(x, p), want)) << fake_quantize_activation(x, p);
  p.is_signed = true;
  p.zero_point = 0;
  // s8 clamps at -128 and 127.
  const at::Tensor y = at::tensor({-100.0f, 100.0f, 0.25f});
  EXPECT_TRUE(at::equal(fake_quantize_activation(y, p), at::tensor({-64.0f, 63.5f, 0.0f})));
}

TEST(Observer, MinMaxIsExactOverBatches) {
  Observer o = observed(ObserverKind::kMinMax,
                        {at::tensor({-1.0f, 0.5f, 2.0f}), at::tensor({-0.25f, 3.5f})});
  EXPECT_EQ(o.range(), std::make_pair(-1.0, 3.5));
  EXPECT_EQ(o.count(), 5);
}

TEST(Observer, MovingAverageUsesTorchConstant) {
  // First batch sets [-1, 2]; the second [-3, 4] moves each end by 1%:
  // -1 + 0.01 * (-3 + 1) = -1.02,  2 + 0.01 * (4 - 2) = 2.02.
  Observer o = observed(ObserverKind::kMovingAverage,
                        {at::tensor({-1.0f, 2.0f}), at::tensor({-3.0f, 4.0f})});
  EXPECT_NEAR(o.range().first, -1.02, 1e-12);
  EXPECT_NEAR(o.range().second, 2.02, 1e-12);
}

TEST(Observer, PercentileDropsEachTail) {
  // 100001 evenly spaced values on [0, 1]; p = 99 drops 0.5% at each end.
  const at::Tensor x = at::linspace(0, 1, 100001);
  Observer o =
      observed(ObserverKind::kPercentile, {x.slice(0, 0, 50000), x.slice(0, 50000)}, false, 99.0);
  const double bin = 1.0 / 2048;  // edge 1, 2048 bins per sign
  EXPECT_NEAR(o.range().first, 0.005, 2 * bin);
  EXPECT_NEAR(o.range().second, 0.995, 2 * bin);
  // p = 100 keeps the exact extremes.
  Observer all = observed(ObserverKind::kPercentile, {x}, false, 100.0);
  EXPECT_EQ(all.range(), std::make_pair(0.0, 1.0));
}

TEST(Observer, HistogramRebinKeepsCountsAndMass) {
  // The second batch doubles the edge; every count must survive the re-binning,
  // and the mean recomputed from the bins must stay close to the true mean.
  const at::Tensor a = at::linspace(-0.5, 1.0, 3001), b = at::linspace(-2.0, 0.0, 1001);
  Observer o = observed(ObserverKind::kMse, {a, b});
  const auto& h = o.histogram();
  ASSERT_EQ(h.size(), 4096u);
  double total = 0, mass = 0;
  const double w = 2 * o.edge() / h.size();
  for (size_t k = 0; k < h.size(); ++k) {
    total += h[k];
    mass += h[k] * (-o.edge() + (k + 0.5) * w);
  }
  EXPECT_NEAR(total, 4002, 1e-6);
  const double true_mean = (a.sum().item<double>() + b.sum().item<double>()) / 4002;
  EXPECT_NEAR(mass / total, true_mean, w);
  EXPECT_DOUBLE_EQ(o.edge(), 2.0);
}

/// The KL search written out plainly from the TensorRT description, without
/// the suffix sums and fused loops of the library.
int64_t plain_kl_threshold(const std::vector<double>& hist, int64_t levels) {
  const int64_t n = hist.size();
  double best = 1e300;
  int64_t best_i = n;
  for (int64_t i = levels; i <= n; ++i) {
    std::vector<double> ref(hist.begin(), hist.begin() + i);
    for (int64_t k = i; k < n; ++k) ref[i - 1] += hist[k];
    const int64_t m = i / levels;
    std::vector<double> cand(i, 0.0);
    for (int64_t j = 0; j < levels; ++j) {
      const int64_t s = j * m, e = j == levels - 1 ? i : s + m;
      double sum = 0;
      int64_t used = 0;
      for (int64_t k = s; k < e; ++k) sum += hist[k];
      for (int64_t k = s; k < e; ++k) used += ref[k] > 0 ? 1 : 0;
      for (int64_t k = s; k < e; ++k) cand[k] = ref[k] > 0 && used ? sum / used : 0.0;
    }
    bool ok = true;
    for (auto* d : {&ref, &cand}) {
      int64_t z = 0;
      for (double v : *d) z += v == 0;
      if (z == static_cast<int64_t>(d->size())) ok = false;
      const double take = 1e-4 * z / (d->size() - z);
      for (double& v : *d) {
        v = v == 0 ? 1e-4 : v - take;
        ok = ok && v > 0;
      }
    }
    if (!ok) continue;
    double sr = 0, sc = 0, kl = 0;
    for (int64_t k = 0; k < i; ++k) sr += ref[k], sc += cand[k];
    for (int64_t k = 0; k < i; ++k) kl += ref[k] / sr * std::log((ref[k] / sr) / (cand[k] / sc));
    if (kl < best) best = kl, best_i = i;
  }
  return best_i;
}

TEST(Observer, KlMatchesPlainReferenceOnSmallHistograms) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t n = 24 + trial * 3, levels = 4 + trial % 5;
    std::vector<double> hist(n);
    // Decaying counts with random holes and a few outlier counts: the shape where clipping pays.
    std::uniform_real_distribution<double> u(0, 1);
    for (int64_t k = 0; k < n; ++k)
      hist[k] = u(rng) < 0.2 ? 0.0 : std::floor(1000 * std::exp(-0.2 * k) * u(rng));
    hist[n - 1] += 3;
    EXPECT_EQ(kl_threshold_bins(hist, levels), plain_kl_threshold(hist, levels))
        << "trial " << trial << " bins " << n << " levels " << levels;
  }
}

TEST(Observer, KlKeepsTheWholeRangeOfUniformData) {
  // Uniform counts quantize without loss at the full width: KL 0 there, > 0 when clipped.
  std::vector<double> hist(64, 100.0);
  EXPECT_EQ(kl_threshold_bins(hist, 8), 64);
}

TEST(Observer, KlClipsOutliersMseMinimisesError) {
  at::manual_seed(3);
  const at::Tensor x = at::cat({at::randn({20000}), at::tensor({60.0f, -45.0f})});
  const double amax = 60.0;
  Observer kl = observed(ObserverKind::kKl, {x}, /*sym=*/true);
  Observer mse = observed(ObserverKind::kMse, {x}, /*sym=*/true);
  Observer mm = observed(ObserverKind::kMinMax, {x}, /*sym=*/true);
  // KL matches the bulk's shape and drops two outliers in 20000.
  EXPECT_LT(kl.range().second, amax / 4) << "kl range " << kl.range().second;
  EXPECT_DOUBLE_EQ(kl.range().first, -kl.range().second);
  // MSE counts the outliers' squared error too (clipping 60 to 15 costs 2000,
  // the whole bulk's rounding ~370), so it may keep them; its error must still
  // be no worse than minmax's on these very values.
  auto err = [&](const Observer& o) {
    return (fake_quantize_activation(x, o.params()) - x).pow(2).sum().item<double>();
  };
  EXPECT_LE(mse.range().second, amax);
  EXPECT_LE(err(mse), err(mm) * 1.0001);
}

TEST(Observer, MseKeepsDenseUniformRange) {
  // With no outliers every clipping adds error: the search stays near r = 1.
  Observer o = observed(ObserverKind::kMse, {at::linspace(-1, 1, 200001)});
  EXPECT_GE(o.range().second, 0.97);
  EXPECT_LE(o.range().second, 1.0);
}

TEST(Observer, NonNegativeDataKlUsesU8Range) {
  // After a ReLU the u8 range starts at 0 and zero_point is 0.
  at::manual_seed(5);
  Observer o = observed(ObserverKind::kKl, {at::relu(at::randn({50000}))});
  EXPECT_EQ(o.range().first, 0.0);
  EXPECT_EQ(o.params().zero_point, 0);
  EXPECT_GT(o.range().second, 1.0);
}

TEST(Observer, BadInputs) {
  expect_error([] { observer_kind_from_string("entropy"); },
               "unknown activation observer 'entropy'");
  expect_error([] { Observer().range(); }, "no values were observed");
  expect_error([] { Observer().observe(at::tensor({1.0f, NAN})); }, "NaN");
  ObserverOptions o;
  o.percentile = 0;
  expect_error([&] { Observer{o}; }, "percentile must be in (0, 100]");
  EXPECT_EQ(observer_kind_from_string("moving_average"), ObserverKind::kMovingAverage);
  EXPECT_EQ(to_string(ObserverKind::kKl), "kl");
}

}  // namespace
}  // namespace qtune
