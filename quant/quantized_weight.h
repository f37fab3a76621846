// A quantized weight as stored and executed: packed codes plus parameters.
//
// The weight is quantized as a 2-D matrix [R, C] (quant_matrix in quantize.h):
// [rows, cols] for group_dim 1, [cols, rows] for group_dim 0. Codes, scales and
// zero points are in that layout; dequantize() gives back the original shape.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "quant/param_quant.h"
#include "quant/quantize.h"

namespace qtune {

struct QuantizedWeight {
  QuantSpec spec;
  std::vector<int64_t> shape;  ///< original weight shape ([out,in] or [out,in,kh,kw])
  at::Tensor packed;           ///< int32 [R, ceil(C/P)], see packing.h
  at::Tensor scale;      ///< float32 [R, groups]; decoded from scale_q when spec.scale_quant is on
  at::Tensor zero;       ///< int32 [R, groups] (float32 if spec.float_zero); undefined for sym
  at::Tensor g_idx;      ///< int32 [C] when spec.has_g_idx: the group (scale column) of each column
  PackedParams scale_q;  ///< the scales as stored, when spec.scale_quant is on
  PackedParams zero_q;   ///< the zero points as stored, when spec.zero_quant is on

  int64_t rows() const;         ///< shape[0]
  int64_t cols() const;         ///< product of shape[1..]
  int64_t matrix_rows() const;  ///< R: rows(), or cols() for group_dim 0
  int64_t matrix_cols() const;  ///< C

  /// Quantizes a float weight (any shape with rows first) with `spec`,
  /// computing params as in quantize.h. With spec.scale_quant the scales are
  /// quantized first and the codes computed with the decoded scales.
  static QuantizedWeight from_float(const at::Tensor& w, const QuantSpec& spec);
  /// Quantizes with given params (algorithms like GPTQ compute their own).
  /// `codes` [R, C] in quant_matrix layout; `g_idx` [C] iff spec.has_g_idx.
  /// Params are compressed as spec.scale_quant / zero_quant say (after the
  /// codes were chosen, as INC's double quant does).
  static QuantizedWeight from_codes(const at::Tensor& codes, const QuantParams& params,
                                    const QuantSpec& spec, std::vector<int64_t> shape,
                                    const at::Tensor& g_idx = at::Tensor());

  /// Compresses `p` as spec.scale_quant / zero_quant say (filling `sq` / `zq`)
  /// and returns the decoded values: what codes should be chosen against.
  static QuantParams compress_params(const QuantParams& p, const QuantSpec& spec, PackedParams* sq,
                                     PackedParams* zq);
  /// from_codes for params already compressed by compress_params (`params` = its result).
  static QuantizedWeight from_compressed(const at::Tensor& codes, const QuantParams& params,
                                         const QuantSpec& spec, std::vector<int64_t> shape,
                                         const at::Tensor& g_idx, PackedParams sq, PackedParams zq);

  /// Float32 weight in the original shape.
  at::Tensor dequantize() const;
  /// Bytes the stored form takes (packed codes, scales or their compressed
  /// form, zero points or theirs, g_idx).
  int64_t storage_bytes() const;

  /// The stored tensors by name suffix: "qweight", "scales" | "scales_q",
  /// "scales_q_scale", "scales_q_zero", "qzeros" | "qzeros_q", "qzeros_q_scale",
  /// "qzeros_q_zero", "g_idx". Only the defined ones.
  std::map<std::string, at::Tensor> tensors() const;
  /// Every suffix tensors() may use.
  static const std::vector<std::string>& tensor_suffixes();
  /// Sets the stored fields from tensors() output (no checks; see
  /// storage/quant_spec_json.h), then call decode_params().
  void set_tensors(const std::map<std::string, at::Tensor>& t);
  /// Fills scale / zero from scale_q / zero_q when the spec compresses them.
  void decode_params();
};

}  // namespace qtune
