#include "quant/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace qtune {

namespace {

const char* const kKindNames[] = {"minmax", "moving_average", "percentile", "kl", "mse"};

bool uses_histogram(ObserverKind k) {
  return k == ObserverKind::kPercentile || k == ObserverKind::kKl || k == ObserverKind::kMse;
}

/// Scalar quantize-dequantize with the same rounding as fake_quantize_activation.
double qdq(double v, const ActParams& p) {
  const double qmin = p.is_signed ? -128 : 0, qmax = p.is_signed ? 127 : 255;
  const double code = std::clamp(std::nearbyint(v * (1.0f / p.scale)) + p.zero_point, qmin, qmax);
  return (code - p.zero_point) * static_cast<double>(p.scale);
}

/// MXNet/TensorRT smoothing: zero bins get eps, taken evenly from the others,
/// so the KL divergence stays finite. False when that would make a bin <= 0.
bool smooth(std::vector<double>& h) {
  constexpr double kEps = 1e-4;
  int64_t zeros = 0;
  for (double v : h) zeros += v == 0;
  const int64_t nonzeros = static_cast<int64_t>(h.size()) - zeros;
  if (nonzeros == 0) return false;
  const double take = kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : h) {
    v = v == 0 ? kEps : v - take;
    if (v <= 0) return false;
  }
  return true;
}

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double pi = p[i] / sp, qi = q[i] / sq;
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

}  // namespace

ObserverKind observer_kind_from_string(const std::string& s) {
  for (int i = 0; i < 5; ++i)
    if (s == kKindNames[i]) return static_cast<ObserverKind>(i);
  throw Error("unknown activation observer '" + s +
              "': expected minmax, moving_average, percentile, kl or mse");
}

std::string to_string(ObserverKind k) { return kKindNames[static_cast<int>(k)]; }

std::vector<std::string> observer_kind_names() {
  return {std::begin(kKindNames), std::end(kKindNames)};
}

ActParams act_params_from_range(double lo, double hi, bool sym) {
  QT_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi,
           "activation range must be finite with min <= max, got [", lo, ", ", hi, "]");
  ActParams p;
  p.is_signed = sym;
  if (sym) {
    const double amax = std::max(std::abs(lo), std::abs(hi));
    p.scale = amax > 0 ? static_cast<float>(amax / 127.0) : 1.0f;
    p.zero_point = 0;
    return p;
  }
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  if (hi - lo <= 0) return p;  // all zeros: scale 1, zero point 0
  p.scale = static_cast<float>((hi - lo) / 255.0);
  p.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / p.scale), 0.0, 255.0));
  return p;
}

at::Tensor fake_quantize_activation(const at::Tensor& x, const ActParams& p) {
  const int64_t qmin = p.is_signed ? -128 : 0, qmax = p.is_signed ? 127 : 255;
  // x * (1/scale) in fp32, as PyTorch and oneDNN quantize (backends/int8.h).
  return (at::clamp(at::round(x * (1.0f / p.scale)) + p.zero_point, qmin, qmax) - p.zero_point) *
         p.scale;
}

Observer::Observer(ObserverOptions options) : opts_(options) {
  QT_CHECK(opts_.averaging_constant > 0 && opts_.averaging_constant <= 1,
           "observer averaging_constant must be in (0, 1], got ", opts_.averaging_constant);
  QT_CHECK(opts_.percentile > 0 && opts_.percentile <= 100,
           "observer percentile must be in (0, 100], got ", opts_.percentile);
  // KL compares against 256-level quantizations, so fewer bins cannot express one.
  QT_CHECK(opts_.bins >= 256, "observer bins must be >= 256, got ", opts_.bins);
}

void Observer::observe(const at::Tensor& x_in) {
  if (x_in.numel() == 0) return;
  const at::Tensor x = x_in.detach().to(at::kFloat);
  QT_CHECK(at::isfinite(x).all().item<bool>(),
           "activation observer: the observed values contain NaN or infinity");
  auto mm = at::aminmax(x);
  const double bmin = std::get<0>(mm).item<double>(), bmax = std::get<1>(mm).item<double>();
  if (count_ == 0) {
    min_ = avg_min_ = bmin;
    max_ = avg_max_ = bmax;
  } else {
    min_ = std::min(min_, bmin);
    max_ = std::max(max_, bmax);
    const double c = opts_.averaging_constant;
    avg_min_ += c * (bmin - avg_min_);
    avg_max_ += c * (bmax - avg_max_);
  }
  count_ += x.numel();
  if (uses_histogram(opts_.kind)) add_to_histogram(x);
}

void Observer::add_to_histogram(const at::Tensor& x) {
  const int64_t n = 2 * opts_.bins;
  const double amax = std::max(std::abs(min_), std::abs(max_));
  if (hist_.empty()) {
    hist_.assign(n, 0.0);
    edge_ = amax > 0 ? amax : std::numeric_limits<float>::min();
  } else if (amax > edge_) {
    // Spread each old bin over the new, wider bins in proportion to overlap.
    std::vector<double> wider(n, 0.0);
    const double w_old = 2 * edge_ / n, w_new = 2 * amax / n;
    for (int64_t k = 0; k < n; ++k) {
      if (hist_[k] == 0) continue;
      const double a = -edge_ + k * w_old, b = a + w_old;
      int64_t j = std::clamp<int64_t>(static_cast<int64_t>((a + amax) / w_new), 0, n - 1);
      for (; j < n; ++j) {
        const double lo = -amax + j * w_new, hi = lo + w_new;
        const double overlap = std::min(b, hi) - std::max(a, lo);
        if (overlap > 0) wider[j] += hist_[k] * overlap / w_old;
        if (hi >= b) break;
      }
    }
    hist_ = std::move(wider);
    edge_ = amax;
  }
  const at::Tensor h = at::histc(x, n, -edge_, edge_).to(at::kDouble).contiguous();
  const double* hp = h.data_ptr<double>();
  for (int64_t k = 0; k < n; ++k) hist_[k] += hp[k];
}

std::pair<double, double> Observer::range() const {
  QT_CHECK(count_ > 0, "activation observer (", to_string(opts_.kind),
           "): no values were observed; calibration produced no input for this layer");
  switch (opts_.kind) {
    case ObserverKind::kMinMax:
      return {min_, max_};
    case ObserverKind::kMovingAverage:
      return {avg_min_, avg_max_};
    case ObserverKind::kPercentile:
      return percentile_range();
    case ObserverKind::kKl:
      return kl_range();
    case ObserverKind::kMse:
      return mse_range();
  }
  QT_ASSERT(false, "unhandled observer kind");
  return {};
}

std::pair<double, double> Observer::percentile_range() const {
  const int64_t n = static_cast<int64_t>(hist_.size());
  const double w = 2 * edge_ / n;
  double total = 0;
  for (double v : hist_) total += v;
  const double tail = total * (100.0 - opts_.percentile) / 200.0;
  double lo = min_, hi = max_;
  double cum = 0;
  for (int64_t k = 0; k < n; ++k) {
    cum += hist_[k];
    if (cum > tail) {
      lo = -edge_ + k * w;
      break;
    }
  }
  cum = 0;
  for (int64_t k = n - 1; k >= 0; --k) {
    cum += hist_[k];
    if (cum > tail) {
      hi = -edge_ + (k + 1) * w;
      break;
    }
  }
  // Bin edges are coarser than the exact extremes; never clip wider than seen.
  return {std::max(lo, min_), std::min(hi, max_)};
}

int64_t kl_threshold_bins(const std::vector<double>& hist, int64_t levels) {
  const int64_t nbins = static_cast<int64_t>(hist.size());
  QT_CHECK(levels >= 1 && nbins >= levels, "KL threshold search: ", nbins,
           " histogram bins cannot hold ", levels, " quantization levels");
  double best = std::numeric_limits<double>::infinity();
  int64_t best_i = nbins;
  std::vector<double> suffix(nbins + 1, 0.0);
  for (int64_t k = nbins - 1; k >= 0; --k) suffix[k] = suffix[k + 1] + hist[k];
  for (int64_t i = levels; i <= nbins; ++i) {
    std::vector<double> p(hist.begin(), hist.begin() + i);
    p[i - 1] += suffix[i];  // outliers are clipped to the threshold
    const int64_t merged = i / levels;
    std::vector<double> q(i, 0.0);
    for (int64_t j = 0; j < levels; ++j) {
      const int64_t start = j * merged, stop = j == levels - 1 ? i : start + merged;
      double sum = 0;
      int64_t nonzero = 0;
      for (int64_t k = start; k < stop; ++k) {
        sum += hist[k];  // the unclipped counts: the tail is what quantization loses
        nonzero += p[k] != 0;
      }
      if (nonzero == 0) continue;
      for (int64_t k = start; k < stop; ++k)
        if (p[k] != 0) q[k] = sum / static_cast<double>(nonzero);
    }
    if (!smooth(p) || !smooth(q)) continue;
    const double kl = kl_divergence(p, q);
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return best_i;
}

std::pair<double, double> Observer::kl_range() const {
  const int64_t b = opts_.bins;
  std::vector<double> abs_hist(b);
  for (int64_t i = 0; i < b; ++i) abs_hist[i] = hist_[b + i] + hist_[b - 1 - i];
  // Signed data (or an s8 target) spends 128 codes on each side of zero;
  // non-negative data (after ReLU) in u8 gets all 256 on [0, t].
  const bool signed_data = min_ < 0;
  const int64_t levels = opts_.sym || signed_data ? 128 : 256;
  const double t = static_cast<double>(kl_threshold_bins(abs_hist, levels)) * edge_ / b;
  if (opts_.sym) {
    const double amax = std::max(std::abs(min_), std::abs(max_));
    const double c = std::min(t, amax);
    return {-c, c};
  }
  return {std::max(min_, -t), std::min(max_, t)};
}

std::pair<double, double> Observer::mse_range() const {
  const int64_t n = static_cast<int64_t>(hist_.size());
  const double w = 2 * edge_ / n;
  // Values are spread uniformly inside a bin: a few points per bin catch the
  // rounding error even when a quantization step is narrower than a bin.
  constexpr int kSub = 8;
  std::pair<double, double> best_range{min_, max_};
  double best = std::numeric_limits<double>::infinity();
  for (int step = 100; step >= 1; --step) {
    const double r = step / 100.0;
    const double lo = opts_.sym ? -std::max(std::abs(min_), std::abs(max_)) * r : min_ * r;
    const double hi = opts_.sym ? -lo : max_ * r;
    const ActParams p = act_params_from_range(lo, hi, opts_.sym);
    double err = 0;
    for (int64_t k = 0; k < n && err < best; ++k) {
      if (hist_[k] == 0) continue;
      const double a = -edge_ + k * w;
      for (int s = 0; s < kSub; ++s) {
        const double v = a + (s + 0.5) * w / kSub;
        const double d = v - qdq(v, p);
        err += hist_[k] / kSub * d * d;
      }
    }
    if (err < best) {
      best = err;
      best_range = {lo, hi};
    }
  }
  return best_range;
}

}  // namespace qtune
