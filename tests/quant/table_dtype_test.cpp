// nf4 / fp4 codes: the tables pinned value by value (INC's NF4 and FP4_BNB),
// rounding to the nearest entry with ties to the lower one, and dequantize ==
// table[code] * scale.
#include <gtest/gtest.h>

#include "common/error.h"
#include "quant/quantized_weight.h"

namespace qtune {
namespace {

QuantSpec table_spec(DType d, int64_t group) {
  QuantSpec s;
  s.dtype = d;
  s.bits = 4;
  s.group_size = group;
  return s;
}

TEST(TableDType, GoldenTables) {
  const std::vector<float> nf4 = {-1.0f,
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
  const std::vector<float> fp4 = {-12, -8, -6, -4, -3, -2, -0.0625f, 0, 0.0625f, 2, 3, 4, 6, 8, 12};
  EXPECT_EQ(dtype_table(DType::kNf4), nf4);
  EXPECT_EQ(dtype_table(DType::kFp4), fp4);
  EXPECT_TRUE(dtype_table(DType::kInt).empty());
  EXPECT_EQ(table_spec(DType::kNf4, 32).qmax(), 15);
  EXPECT_EQ(table_spec(DType::kFp4, 32).qmax(), 14);
  EXPECT_EQ(table_spec(DType::kFp4, 32).qmin(), 0);
}

TEST(TableDType, CodesByHand) {
  // fp4, one group of 8 with absmax 12: scale = 12 / 12 = 1, so w/scale = w.
  // 2.5 is the midpoint of 2 and 3: ties go to the lower entry (INC's <=).
  // 0.03125 is the midpoint of 0 and 0.0625 -> 0 (code 7); 0.04 -> 0.0625 (code 8).
  const at::Tensor w =
      at::tensor({12.0f, -12.0f, 2.5f, 2.6f, 0.03125f, 0.04f, -5.0f, 7.0f}).reshape({1, 8});
  const QuantSpec s = table_spec(DType::kFp4, 8);
  const QuantParams p = compute_params(w, s);
  EXPECT_FLOAT_EQ(p.scale.item<float>(), 1.0f);
  const at::Tensor codes = quantize_codes(w, p, s);
  // -5 is the midpoint of -6 and -4 -> -6 (code 2); 7 of 6 and 8 -> 6 (code 12).
  const std::vector<int32_t> expected = {14, 0, 9, 10, 7, 8, 2, 12};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(codes[0][i].item<int32_t>(), expected[i]) << i;
}

TEST(TableDType, NearestEntryAndDequantizeIsTableTimesScale) {
  at::manual_seed(3);
  for (DType d : {DType::kNf4, DType::kFp4}) {
    const QuantSpec s = table_spec(d, 16);
    const at::Tensor w = at::randn({6, 40});
    const QuantizedWeight q = QuantizedWeight::from_float(w, s);
    const QuantParams p = compute_params(w, s);
    const at::Tensor codes = quantize_codes(w, p, s);
    const at::Tensor table = at::tensor(dtype_table(d));
    const at::Tensor deq = q.dequantize();
    ASSERT_GT(deq.abs().sum().item<double>(), 0);  // not vacuous
    for (int64_t r = 0; r < 6; ++r) {
      for (int64_t c = 0; c < 40; ++c) {
        const float scale = p.scale[r][c / 16].item<float>();
        const int64_t code = codes[r][c].item<int32_t>();
        // dequantize == table[code] * scale, exactly.
        EXPECT_EQ(deq[r][c].item<float>(), table[code].item<float>() * scale);
        // The chosen entry is a nearest one.
        const float v = w[r][c].item<float>() / scale;
        const float best = (table - v).abs().min().item<float>();
        EXPECT_LE(std::abs(table[code].item<float>() - v), best + 1e-6f) << r << "," << c;
      }
      // The group's absmax maps to the table's extreme (scale = absmax / max(table)).
      const float amax = w[r].narrow(0, 0, 16).abs().max().item<float>();
      EXPECT_FLOAT_EQ(p.scale[r][0].item<float>(), amax / dtype_table(d).back());
    }
  }
}

TEST(TableDType, SpecRules) {
  QuantSpec s = table_spec(DType::kNf4, 32);
  s.bits = 3;
  EXPECT_THROW(s.validate(), Error);
  s.bits = 4;
  s.scheme = Scheme::kAsym;
  EXPECT_THROW(s.validate(), Error);
  EXPECT_EQ(dtype_from_string("fp4"), DType::kFp4);
  EXPECT_THROW(dtype_from_string("fp8"), Error);
}

}  // namespace
}  // namespace qtune
