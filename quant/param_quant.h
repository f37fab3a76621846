// Quantized parameter tensors: a layer's scales (INC's double quant) or HQQ's
// float zero points, stored as int codes with their own per-group scales so
// the saved model really shrinks (INC only simulates this; its scales stay float).
#pragma once

#include <ATen/ATen.h>

#include "quant/quant_spec.h"

namespace qtune {

/// The stored form of a parameter tensor of n values, flattened row-major.
struct PackedParams {
  at::Tensor packed;  ///< int32 [1, ceil(n/P)], codes packed as in packing.h
  at::Tensor scale;   ///< float32 [1, groups]
  at::Tensor zero;    ///< int32 [1, groups]; asym only

  bool defined() const { return packed.defined(); }
  int64_t storage_bytes() const;
};

/// The int QuantSpec a parameter tensor of `n` values is quantized with.
QuantSpec param_spec(const ParamQuant& pq);

/// Quantizes `values` (any shape) as `pq` says; pq.bits must be > 0.
PackedParams pack_params(const at::Tensor& values, const ParamQuant& pq);

/// The float32 values back, in `shape`.
at::Tensor unpack_params(const PackedParams& p, const ParamQuant& pq, at::IntArrayRef shape);

}  // namespace qtune
