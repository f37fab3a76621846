#include "quantizers/core/quant_spec.h"

#include <algorithm>

#include "common/error.h"

namespace qtune {

void QuantSpec::validate() const {
  QT_CHECK(bits >= 1 && bits <= 8, "quantization bits must be in 1..8, got ", bits);
  if (granularity == Granularity::kPerGroup) {
    QT_CHECK(group_size >= 1, "group size must be -1 or >= 1, got ", group_size);
  }
  QT_CHECK(clip_ratio > 0.0 && clip_ratio <= 1.0, "clip_ratio must be in (0, 1], got ", clip_ratio);
  QT_CHECK(!full_range || scheme == Scheme::kSym,
           "full_range applies to the sym scheme only, got scheme asym");
}

// A group wider than the row is the whole row: clamping here keeps a huge
// group_size from padding every row out to it (memory) or overflowing.
int64_t QuantSpec::groups_per_row(int64_t cols) const {
  const int64_t g = effective_group_size(cols);
  return (cols + g - 1) / g;
}

int64_t QuantSpec::effective_group_size(int64_t cols) const {
  return granularity == Granularity::kPerGroup ? std::min(group_size, cols) : cols;
}

int64_t QuantSpec::qmin() const { return scheme == Scheme::kSym ? -(int64_t{1} << (bits - 1)) : 0; }

int64_t QuantSpec::qmax() const {
  return scheme == Scheme::kSym ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}

std::string to_string(Scheme s) { return s == Scheme::kSym ? "sym" : "asym"; }

Scheme scheme_from_string(const std::string& s) {
  if (s == "sym") return Scheme::kSym;
  if (s == "asym") return Scheme::kAsym;
  throw Error("unknown quantization scheme '" + s + "': expected sym or asym");
}

}  // namespace qtune
