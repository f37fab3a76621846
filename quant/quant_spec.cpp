#include "quant/quant_spec.h"

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
  QT_CHECK(dtype == DType::kInt || (bits == 4 && scheme == Scheme::kSym && !full_range), "dtype ",
           to_string(dtype), " needs bits 4 and the sym scheme, got bits ", bits, " ",
           to_string(scheme));
  QT_CHECK(
      sym_grid == SymGrid::kRtn || (scheme == Scheme::kSym && dtype == DType::kInt && !full_range),
      "the gptq sym grid needs the sym scheme, int codes and no full_range, got ",
      to_string(scheme), " ", to_string(dtype), full_range ? " full_range" : "");
  QT_CHECK(group_dim == 0 || group_dim == 1, "group_dim must be 0 or 1, got ", group_dim);
  QT_CHECK(!float_zero || scheme == Scheme::kAsym, "a float zero point needs the asym scheme");
  QT_CHECK(!zero_quant.enabled() || float_zero,
           "zero point quantization applies to float zero points only");
  for (const ParamQuant* pq : {&scale_quant, &zero_quant}) {
    const char* what = pq == &scale_quant ? "scale" : "zero point";
    QT_CHECK(pq->bits == 0 || (pq->bits >= 2 && pq->bits <= 8), what,
             " quantization bits must be 0 (float32) or 2..8, got ", pq->bits);
    QT_CHECK(pq->group_size == -1 || pq->group_size >= 1, what,
             " quantization group size must be -1 or >= 1, got ", pq->group_size);
  }
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

int64_t QuantSpec::qmin() const {
  if (dtype != DType::kInt) return 0;
  return scheme == Scheme::kSym ? -(int64_t{1} << (bits - 1)) : 0;
}

int64_t QuantSpec::qmax() const {
  if (dtype != DType::kInt) return static_cast<int64_t>(dtype_table(dtype).size()) - 1;
  return scheme == Scheme::kSym ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}

std::string to_string(Scheme s) { return s == Scheme::kSym ? "sym" : "asym"; }

Scheme scheme_from_string(const std::string& s) {
  if (s == "sym") return Scheme::kSym;
  if (s == "asym") return Scheme::kAsym;
  throw Error("unknown quantization scheme '" + s + "': expected sym or asym");
}

std::string to_string(SymGrid g) { return g == SymGrid::kGptq ? "gptq" : "rtn"; }

SymGrid sym_grid_from_string(const std::string& s) {
  if (s == "rtn") return SymGrid::kRtn;
  if (s == "gptq") return SymGrid::kGptq;
  throw Error("unknown sym grid '" + s + "': expected rtn or gptq");
}

std::string to_string(DType d) {
  switch (d) {
    case DType::kInt:
      return "int";
    case DType::kNf4:
      return "nf4";
    case DType::kFp4:
      return "fp4";
  }
  QT_ASSERT(false, "unknown dtype");
  return "";
}

DType dtype_from_string(const std::string& s) {
  if (s == "int") return DType::kInt;
  if (s == "nf4") return DType::kNf4;
  if (s == "fp4") return DType::kFp4;
  throw Error("unknown weight dtype '" + s + "': expected int, nf4 or fp4");
}

const std::vector<float>& dtype_table(DType d) {
  // INC's NF4 (QLoRA's normal-quantile table) and FP4_BNB (e2m1 with the
  // bitsandbytes exponent bias; INC's "fp4"). Only ratios matter: the scale
  // divides by the table's maximum.
  static const std::vector<float> kNone;
  static const std::vector<float> kNf4Table = {-1.0f,
                                               -0.6961928009986877f,
                                               -0.5250730514526367f,
                                               -0.39491748809814453f,
                                               -0.28444138169288635f,
                                               -0.18477343022823334f,
                                               -0.09105003625154495f,
                                               0.0f,
                                               0.07958029955625534f,
                                               0.16093020141124725f,
                                               0.24611230194568634f,
                                               0.33791524171829224f,
                                               0.44070982933044434f,
                                               0.5626170039176941f,
                                               0.7229568362236023f,
                                               1.0f};
  static const std::vector<float> kFp4Table = {-12.0f, -8.0f,    -6.0f, -4.0f,   -3.0f,
                                               -2.0f,  -0.0625f, 0.0f,  0.0625f, 2.0f,
                                               3.0f,   4.0f,     6.0f,  8.0f,    12.0f};
  switch (d) {
    case DType::kNf4:
      return kNf4Table;
    case DType::kFp4:
      return kFp4Table;
    default:
      return kNone;
  }
}

}  // namespace qtune
