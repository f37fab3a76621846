// Token windows for LM calibration and evaluation batches.
#include "models/text/lm_calibration.h"

#include <random>

#include "common/error.h"

namespace qtune {

at::Tensor sample_token_windows(const std::vector<int64_t>& stream, int64_t n, int64_t length,
                                uint64_t seed) {
  const int64_t size = static_cast<int64_t>(stream.size());
  QT_CHECK(n >= 1, "LM calibration: number of windows must be >= 1, got ", n);
  QT_CHECK(length >= 1, "LM calibration: window length must be >= 1, got ", length);
  QT_CHECK(size >= length, "LM calibration: the token stream has ", size,
           " tokens, fewer than one window of ", length);
  std::mt19937_64 rng(seed);
  const uint64_t starts = static_cast<uint64_t>(size - length + 1);
  auto out = at::empty({n, length}, at::kLong);
  auto* dst = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    // Plain modulo rather than std::uniform_int_distribution, whose algorithm
    // the standard leaves open: the same seed must give the same windows with
    // any standard library (a trial is reproduced on other ranks/machines).
    // The bias is below starts / 2^64.
    const int64_t start = static_cast<int64_t>(rng() % starts);
    std::copy(stream.begin() + start, stream.begin() + start + length, dst + i * length);
  }
  return out;
}

at::Tensor consecutive_token_windows(const std::vector<int64_t>& stream, int64_t length,
                                     int64_t max_windows) {
  const int64_t size = static_cast<int64_t>(stream.size());
  QT_CHECK(length >= 1, "LM windows: window length must be >= 1, got ", length);
  QT_CHECK(size >= length, "LM windows: the token stream has ", size,
           " tokens, fewer than one window of ", length);
  int64_t n = size / length;
  if (max_windows > 0) n = std::min(n, max_windows);
  return at::tensor(std::vector<int64_t>(stream.begin(), stream.begin() + n * length), at::kLong)
      .view({n, length});
}

}  // namespace qtune
