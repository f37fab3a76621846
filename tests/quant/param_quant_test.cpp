// Double quantization stored for real, group_dim 0, and g_idx layouts of QuantizedWeight.
#include <gtest/gtest.h>

#include "common/error.h"
#include "quant/packing.h"
#include "quant/quantized_weight.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 21;

TEST(ParamQuant, RoundTripWithinHalfAStep) {
  at::manual_seed(kSeed);
  const at::Tensor v = at::rand({7, 45}) + 0.1;  // positive, like scales
  for (int bits : {6, 8}) {
    for (Scheme scheme : {Scheme::kSym, Scheme::kAsym}) {
      const ParamQuant pq{bits, scheme, 64};
      const PackedParams p = pack_params(v, pq);
      const at::Tensor back = unpack_params(p, pq, v.sizes());
      // Each group of 64 values (row-major) has its own step; error <= step / 2.
      const at::Tensor flat = v.reshape({-1});
      const at::Tensor err = (back.reshape({-1}) - flat).abs();
      for (int64_t g = 0; g * 64 < flat.numel(); ++g) {
        const int64_t n = std::min<int64_t>(64, flat.numel() - g * 64);
        const double step = p.scale[0][g].item<double>();
        EXPECT_LE(err.narrow(0, g * 64, n).max().item<double>(), step / 2 * (1 + 1e-5))
            << bits << to_string(scheme) << " group " << g;
      }
      EXPECT_EQ(p.packed.size(1), (315 + values_per_word(bits) - 1) / values_per_word(bits));
      EXPECT_EQ(p.zero.defined(), scheme == Scheme::kAsym);
    }
  }
}

TEST(ParamQuant, DoubleQuantShrinksStorageAndStaysClose) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({256, 512});
  QuantSpec plain;  // int4 sym g32
  QuantSpec dq = plain;
  dq.scale_quant = ParamQuant{8, Scheme::kAsym, 256};
  const QuantizedWeight a = QuantizedWeight::from_float(w, plain);
  const QuantizedWeight b = QuantizedWeight::from_float(w, dq);
  // 256*16 scales: float32 4 bytes -> 1 byte each (+ 16 groups * 8 bytes).
  const int64_t packed = 256 * 512 / 8 * 4;
  EXPECT_EQ(a.storage_bytes(), packed + 256 * 16 * 4);
  EXPECT_EQ(b.storage_bytes(), packed + 256 * 16 + 16 * (4 + 4));
  const double mse_a = (a.dequantize() - w).pow(2).mean().item<double>();
  const double mse_b = (b.dequantize() - w).pow(2).mean().item<double>();
  EXPECT_LT(mse_b, mse_a * 1.05);  // 8-bit scales cost little
  EXPECT_GT(mse_b, 0);
  EXPECT_FALSE(b.tensors().count("scales"));
  EXPECT_TRUE(b.tensors().count("scales_q"));
}

TEST(ParamQuant, StoredTensorsRoundTrip) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({12, 70});
  QuantSpec s;
  s.scheme = Scheme::kAsym;
  s.group_size = 16;
  s.scale_quant = ParamQuant{6, Scheme::kSym, 8};
  const QuantizedWeight q = QuantizedWeight::from_float(w, s);
  QuantizedWeight r;
  r.spec = s;
  r.shape = q.shape;
  r.set_tensors(q.tensors());
  r.decode_params();
  EXPECT_TRUE(at::equal(r.dequantize(), q.dequantize()));
}

TEST(GroupDim, ZeroGroupsAlongOutputChannels) {
  at::manual_seed(kSeed);
  const at::Tensor w = at::randn({40, 6});
  QuantSpec s;
  s.group_size = 8;
  s.group_dim = 0;
  const QuantizedWeight q = QuantizedWeight::from_float(w, s);
  // Stored as the transpose: 6 rows of 40 values, 5 groups each.
  EXPECT_EQ(q.scale.sizes(), at::IntArrayRef({6, 5}));
  QuantSpec t = s;
  t.group_dim = 1;
  EXPECT_TRUE(at::equal(q.dequantize(), fake_quantize(w.t().contiguous(), t).t()));
  EXPECT_TRUE(at::equal(q.dequantize(), fake_quantize(w, s)));
}

TEST(GIdx, EachColumnReadsItsGroup) {
  // 2 rows, 4 columns, 2 groups; columns 0 and 3 use group 1.
  QuantSpec s;
  s.group_size = 2;
  s.has_g_idx = true;
  const at::Tensor codes = at::tensor({1, 2, 3, -1, -2, 0, 1, 2}, at::kInt).reshape({2, 4});
  const QuantParams p{at::tensor({1.0f, 10.0f, 2.0f, 20.0f}).reshape({2, 2}),
                      at::zeros({2, 2}, at::kInt)};
  const at::Tensor g_idx = at::tensor({1, 0, 0, 1}, at::kInt);
  const QuantizedWeight q = QuantizedWeight::from_codes(codes, p, s, {2, 4}, g_idx);
  const at::Tensor expected =
      at::tensor({10.0f, 2.0f, 3.0f, -10.0f, -40.0f, 0.0f, 2.0f, 40.0f}).reshape({2, 4});
  EXPECT_TRUE(at::equal(q.dequantize(), expected));
  EXPECT_EQ(q.storage_bytes(), 2 * 4 + 4 * 4 + 4 * 4);
  EXPECT_THROW(QuantizedWeight::from_codes(codes, p, s, {2, 4}), Error);  // g_idx missing
  EXPECT_THROW(QuantizedWeight::from_codes(codes, p, s, {2, 4}, at::tensor({0, 2, 0, 1}, at::kInt)),
               Error);  // group 2 does not exist
}

TEST(FloatZero, RoundsAfterAddingTheZero) {
  QuantSpec s;
  s.scheme = Scheme::kAsym;
  s.float_zero = true;
  s.granularity = Granularity::kPerChannel;
  const at::Tensor w = at::tensor({0.0f, 1.0f, 2.0f, 3.0f}).reshape({1, 4});
  const QuantParams p{at::ones({1, 1}), at::full({1, 1}, 0.5f)};
  // w/s + z = 0.5, 1.5, 2.5, 3.5 -> half-to-even 0, 2, 2, 4.
  const at::Tensor codes = quantize_codes(w, p, s);
  EXPECT_TRUE(at::equal(codes, at::tensor({0, 2, 2, 4}, at::kInt).reshape({1, 4})));
  EXPECT_TRUE(at::equal(dequantize_codes(codes, p, s),
                        at::tensor({-0.5f, 1.5f, 1.5f, 3.5f}).reshape({1, 4})));
  const QuantParams int_zero{at::ones({1, 1}), at::zeros({1, 1}, at::kInt)};
  EXPECT_THROW(quantize_codes(w, int_zero, s), Error);  // a float spec needs a float zero
}

}  // namespace
}  // namespace qtune
