// A quantized weight as stored and executed: packed codes plus parameters.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "quantizers/core/quantize.h"

namespace qtune {

struct QuantizedWeight {
  QuantSpec spec;
  std::vector<int64_t> shape;  ///< original weight shape ([out,in] or [out,in,kh,kw])
  at::Tensor packed;           ///< int32 [rows, ceil(cols/P)], see packing.h
  at::Tensor scale;            ///< float32 [rows, groups]
  at::Tensor zero;             ///< int32 [rows, groups]; undefined for sym

  int64_t rows() const;  ///< shape[0]
  int64_t cols() const;  ///< product of shape[1..]

  /// Quantizes a float weight (any shape with rows first) with `spec`,
  /// computing params as in quantize.h.
  static QuantizedWeight from_float(const at::Tensor& w, const QuantSpec& spec);
  /// Quantizes with given params (algorithms like GPTQ compute their own).
  static QuantizedWeight from_codes(const at::Tensor& codes, const QuantParams& params,
                                    const QuantSpec& spec, std::vector<int64_t> shape);

  /// Float32 weight in the original shape.
  at::Tensor dequantize() const;
  /// Bytes the stored form takes (packed + scale + zero).
  int64_t storage_bytes() const;
};

}  // namespace qtune
