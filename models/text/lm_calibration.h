// Calibration data for language models (INC draws n samples of L tokens from
// a text; its defaults 128 x 2048 are scaled down to the model).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace qtune {

/// `n` windows of `length` consecutive tokens of `stream`, each starting at a
/// position drawn uniformly from [0, stream.size() - length] with
/// std::mt19937_64(seed): int64 [n, length]. A stream shorter than `length`,
/// n < 1 or length < 1 is a qtune::Error stating both sizes.
at::Tensor sample_token_windows(const std::vector<int64_t>& stream, int64_t n, int64_t length,
                                uint64_t seed);

/// Consecutive, non-overlapping windows of `length` tokens from the start of
/// `stream` (the tail that does not fill a window is dropped), at most
/// `max_windows` (<= 0: all): int64 [n, length]. For held-out batches whose
/// latency is measured. Too short a stream is a qtune::Error.
at::Tensor consecutive_token_windows(const std::vector<int64_t>& stream, int64_t length,
                                     int64_t max_windows = 0);

}  // namespace qtune
