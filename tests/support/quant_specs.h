// QuantSpec builders shared by the native backend tests.
#pragma once

#include <cstdint>

#include "quant/quant_spec.h"

namespace qtune::testing {

/// An int spec: `group` < 0 means per output channel.
inline QuantSpec int_spec(int bits, Scheme scheme, int64_t group, bool float_zero = false) {
  QuantSpec s;
  s.bits = bits;
  s.scheme = scheme;
  s.float_zero = float_zero;
  if (group < 0) {
    s.granularity = Granularity::kPerChannel;
  } else {
    s.group_size = group;
  }
  return s;
}

/// A 4-bit table spec (nf4 / fp4).
inline QuantSpec table_spec(DType d, int64_t group) {
  QuantSpec s = int_spec(4, Scheme::kSym, group);
  s.dtype = d;
  return s;
}

}  // namespace qtune::testing
