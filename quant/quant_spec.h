// What a quantization is, independent of any algorithm or model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qtune {

enum class Scheme { kSym, kAsym };

/// How the sym scheme derives a group's scale from its absmax `a`. Codes
/// (-2^(b-1)..2^(b-1)-1) and values (code * scale) are the same for both; only
/// the scale differs, so every kernel, packing and file layout reads both alike.
enum class SymGrid {
  kRtn,   ///< INC's RTN (and AWQ/TEQ): scale = a / (2^(b-1)-1); code -2^(b-1) is
          ///< used only when clip_ratio < 1. full_range changes it to a / 2^(b-1).
  kGptq,  ///< INC's GPTQ, the GPTQ reference and the GPTQ checkpoint format:
          ///< scale = 2a / (2^b-1), i.e. unsigned codes 0..2^b-1 around the fixed
          ///< zero point 2^(b-1). (1 bit: the full_range form, as for kRtn.)
};

/// What a code means. kInt: an integer step of the scale. kNf4 / kFp4: an index
/// into a 16- (15-) entry table of normalised values (INC's NF4 and "fp4" =
/// FP4_BNB tables), value = table[code] * scale, scale = absmax / max(table).
enum class DType { kInt, kNf4, kFp4 };

/// How a float parameter tensor (a layer's scales, or HQQ's float zero points)
/// is stored: bits = 0 keeps float32; else its values, flattened row-major,
/// are quantized in groups of `group_size` with an int `bits` code and a
/// float32 scale (+ int zero for asym) per group (INC's double quant, stored for real).
struct ParamQuant {
  int bits = 0;  ///< 0 = float32; else 2..8
  Scheme scheme = Scheme::kAsym;
  int64_t group_size = 256;  ///< values per scale; -1 = all values share one
  bool enabled() const { return bits > 0; }
};

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
  int bits = 4;  ///< 1..8
  Scheme scheme = Scheme::kSym;
  Granularity granularity = Granularity::kPerGroup;
  int64_t group_size = 32;           ///< columns per group; used with kPerGroup only
  bool full_range = false;           ///< sym only: scale = absmax / 2^(b-1) (INC use_full_range)
  SymGrid sym_grid = SymGrid::kRtn;  ///< sym int only; kGptq excludes full_range
  double clip_ratio = 1.0;           ///< multiplies min/max before computing params (INC quantile)
  DType dtype = DType::kInt;         ///< kNf4/kFp4 need bits 4 and scheme sym (no zero point)
  /// INC's group_dim: 1 = groups run along the input channels (a row of the
  /// 2-D view); 0 = along the output channels (the weight is quantized as its
  /// transpose [cols, rows]; packed codes and params are stored in that layout).
  int group_dim = 1;
  bool float_zero = false;  ///< asym: the zero point is a float (HQQ), q = round(w/scale + zero)
  bool has_g_idx = false;   ///< column c uses group g_idx[c] (GPTQ act_order), see QuantizedWeight
  ParamQuant scale_quant;   ///< how the scales are stored (double quant)
  ParamQuant zero_quant;    ///< how float zero points are stored (HQQ quant_zero)

  /// Throws qtune::Error if bits/group_size are out of range.
  void validate() const;
  /// Number of groups per row for a row of `cols` values.
  int64_t groups_per_row(int64_t cols) const;
  /// Columns covered by one group for rows of `cols` values (cols for per-channel/tensor).
  int64_t effective_group_size(int64_t cols) const;
  /// Smallest and largest integer code: sym [-2^(b-1), 2^(b-1)-1], asym [0, 2^b-1];
  /// table dtypes [0, table size - 1].
  int64_t qmin() const;
  int64_t qmax() const;
};

std::string to_string(Scheme s);
Scheme scheme_from_string(const std::string& s);     ///< "sym" | "asym", else qtune::Error
std::string to_string(SymGrid g);                    ///< "rtn" | "gptq"
SymGrid sym_grid_from_string(const std::string& s);  ///< inverse, else qtune::Error
std::string to_string(DType d);                      ///< "int" | "nf4" | "fp4"
DType dtype_from_string(const std::string& s);       ///< inverse, else qtune::Error

/// The value table of a table dtype (ascending; empty for kInt).
const std::vector<float>& dtype_table(DType d);

}  // namespace qtune
