#include "quant/quantized_weight.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 11;

TEST(QuantizedWeight, DequantizeEqualsFakeQuantize) {
  at::manual_seed(kSeed);
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{5, 33}, {4, 3, 3, 3}, {1, 1}}) {
    for (int bits : {2, 3, 4, 8}) {
      for (Scheme scheme : {Scheme::kSym, Scheme::kAsym}) {
        QuantSpec s;
        s.bits = bits;
        s.scheme = scheme;
        s.group_size = 8;
        const at::Tensor w = at::randn(shape);
        const QuantizedWeight q = QuantizedWeight::from_float(w, s);
        EXPECT_EQ(q.shape, shape);
        EXPECT_EQ(q.zero.defined(), scheme == Scheme::kAsym);
        EXPECT_TRUE(at::equal(q.dequantize(), fake_quantize(w, s))) << bits << to_string(scheme);
      }
    }
  }
}

TEST(QuantizedWeight, StorageBytes) {
  // [64, 128], 4-bit g32: packed 64 x 16 words, scale 64 x 4 floats (+ zero for asym).
  QuantSpec s;
  const at::Tensor w = at::randn({64, 128});
  EXPECT_EQ(QuantizedWeight::from_float(w, s).storage_bytes(), 64 * 16 * 4 + 64 * 4 * 4);
  s.scheme = Scheme::kAsym;
  EXPECT_EQ(QuantizedWeight::from_float(w, s).storage_bytes(), 64 * 16 * 4 + 2 * 64 * 4 * 4);
}

TEST(QuantizedWeight, FromCodesChecksShapes) {
  QuantSpec s;
  s.granularity = Granularity::kPerChannel;
  const QuantParams p{at::ones({2, 1}), at::zeros({2, 1}, at::kInt)};
  EXPECT_THROW(QuantizedWeight::from_codes(at::zeros({2, 4}, at::kInt), p, s, {2, 5}), Error);
  const QuantParams bad{at::ones({3, 1}), at::zeros({3, 1}, at::kInt)};
  EXPECT_THROW(QuantizedWeight::from_codes(at::zeros({2, 4}, at::kInt), bad, s, {2, 4}), Error);
  const QuantizedWeight q =
      QuantizedWeight::from_codes(at::full({2, 4}, -3, at::kInt), p, s, {2, 4});
  EXPECT_TRUE(at::equal(q.dequantize(), at::full({2, 4}, -3.0f)));
}

}  // namespace
}  // namespace qtune
