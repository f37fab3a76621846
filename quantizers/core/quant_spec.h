// What a quantization is, independent of any algorithm or model.
#pragma once

#include <cstdint>
#include <string>

namespace qtune {

enum class Scheme { kSym, kAsym };

/// How weights are split into groups that share one scale (and zero point).
/// Weights are always viewed as 2-D [rows = output channels, cols = inputs];
/// a Conv2d weight [out, in, kh, kw] is flattened to [out, in*kh*kw].
enum class Granularity {
  kPerTensor,   ///< one scale for the whole tensor
  kPerChannel,  ///< one scale per row (output channel); INC's group_size = -1
  kPerGroup,    ///< one scale per `group_size` consecutive columns of a row;
                ///< the trailing partial group of a row is its own group
};

struct QuantSpec {
  int bits = 4;                  ///< 1..8
  Scheme scheme = Scheme::kSym;
  Granularity granularity = Granularity::kPerGroup;
  int64_t group_size = 32;       ///< columns per group; used with kPerGroup only
  bool full_range = false;       ///< sym only: scale = absmax / 2^(b-1) (INC use_full_range)
  double clip_ratio = 1.0;       ///< multiplies min/max before computing params (INC quantile)

  /// Throws qtune::Error if bits/group_size are out of range.
  void validate() const;
  /// Number of groups per row for a row of `cols` values.
  int64_t groups_per_row(int64_t cols) const;
  /// Columns covered by one group for rows of `cols` values (cols for per-channel/tensor).
  int64_t effective_group_size(int64_t cols) const;
  /// Smallest and largest integer code: sym [-2^(b-1), 2^(b-1)-1], asym [0, 2^b-1].
  int64_t qmin() const;
  int64_t qmax() const;
};

std::string to_string(Scheme s);
Scheme scheme_from_string(const std::string& s);  ///< "sym" | "asym", else qtune::Error

}  // namespace qtune
