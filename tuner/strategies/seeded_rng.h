// The strategies' random numbers: std::mt19937_64 is specified bit for bit,
// but the standard distributions are not (libstdc++ and libc++ differ), so
// draws are derived here and a seed means the same trials everywhere.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace qtune {

class SeededRng {
 public:
  explicit SeededRng(uint64_t seed) : engine_(seed) {}
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform in [0, n); n > 0.
  int64_t below(int64_t n) {
    auto k = static_cast<int64_t>(uniform() * static_cast<double>(n));
    return k < n ? k : n - 1;
  }
  /// Index i drawn with probability weights[i] / sum (weights >= 0, sum > 0).
  size_t weighted(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double u = uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (u < weights[i]) return i;
      u -= weights[i];
    }
    // Rounding left u at the very end: the last index with any weight.
    for (size_t i = weights.size(); i-- > 0;)
      if (weights[i] > 0) return i;
    return 0;
  }
  /// Fisher-Yates.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[static_cast<size_t>(below(static_cast<int64_t>(i)))]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace qtune
