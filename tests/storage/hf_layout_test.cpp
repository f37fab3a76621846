// The GPTQ and AWQ packings: golden int32 words worked by hand for small
// layers, and an independent decoder written from each format's published
// formula (AutoGPTQ's and AutoAWQ's unpacking, not qtune's layout code) that
// dequantizes the packed tensors to qtune's weights.
#include <gtest/gtest.h>

#include <functional>

#include "storage/formats/hf_awq_layout.h"
#include "storage/formats/hf_gptq_layout.h"
#include "tests/support/expect_error.h"

namespace qtune {
namespace {

using testing::expect_error;

uint32_t word(const at::Tensor& t, int64_t r, int64_t c) {
  return static_cast<uint32_t>(t.index({r, c}).item<int32_t>());
}

/// A quantized Linear [out, in] from unsigned stored codes (sym codes are
/// shifted by 2^(b-1), as the formats store them).
QuantizedWeight make_weight(const at::Tensor& ucodes, int bits, Scheme scheme, int64_t group_size,
                            const at::Tensor& scale, const at::Tensor& zero,
                            const at::Tensor& g_idx = at::Tensor()) {
  QuantSpec s;
  s.bits = bits;
  s.scheme = scheme;
  s.granularity = group_size == -1 ? Granularity::kPerChannel : Granularity::kPerGroup;
  if (group_size != -1) s.group_size = group_size;
  s.has_g_idx = g_idx.defined();
  const int64_t mid = int64_t{1} << (bits - 1);
  const at::Tensor codes = scheme == Scheme::kSym ? ucodes - mid : ucodes;
  return QuantizedWeight::from_codes(codes, {scale, scheme == Scheme::kSym ? zero * 0 : zero}, s,
                                     {ucodes.size(0), ucodes.size(1)}, g_idx);
}

/// codes[n][k] = f(n, k) as int32 [out, in].
at::Tensor codes_of(int64_t out, int64_t in, const std::function<int(int64_t, int64_t)>& f) {
  at::Tensor c = at::empty({out, in}, at::kInt);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k) c.index_put_({n, k}, f(n, k));
  return c;
}

// ---- GPTQ golden words ------------------------------------------------------

// 4-bit, sym, one group of 8, layer [out 8, in 8]. Stored codes u[n][k] =
// (k + 3n) % 16. qweight is [in*4/32 = 1, out = 8]: word n holds column n's 8
// codes along k, LSB first:
//   n = 0: u = 0 1 2 3 4 5 6 7      -> 0x76543210
//   n = 1: u = 3 4 5 6 7 8 9 10     -> 0xA9876543
//   n = 2: u = 6 7 8 9 10 11 12 13  -> 0xDCBA9876
// sym zero point 8: v1 stores 7 in each of the 8 nibbles of qzeros [1, 1]
// (0x77777777, the word every sym GPTQ checkpoint has); v2 stores 8 (0x88888888).
TEST(HfGptqLayout, Golden4BitSym) {
  const at::Tensor u = codes_of(8, 8, [](int64_t n, int64_t k) { return (k + 3 * n) % 16; });
  const QuantizedWeight w =
      make_weight(u, 4, Scheme::kSym, 8, at::full({8, 1}, 0.5f), at::zeros({8, 1}, at::kInt));
  const GptqTensors v1 = gptq_pack(w, /*v1=*/true, "l");
  ASSERT_EQ(v1.qweight.sizes(), at::IntArrayRef({1, 8}));
  EXPECT_EQ(word(v1.qweight, 0, 0), 0x76543210u);
  EXPECT_EQ(word(v1.qweight, 0, 1), 0xA9876543u);
  EXPECT_EQ(word(v1.qweight, 0, 2), 0xDCBA9876u);
  ASSERT_EQ(v1.qzeros.sizes(), at::IntArrayRef({1, 1}));
  EXPECT_EQ(word(v1.qzeros, 0, 0), 0x77777777u);
  EXPECT_EQ(word(gptq_pack(w, false, "l").qzeros, 0, 0), 0x88888888u);
  EXPECT_TRUE(at::equal(v1.g_idx, at::zeros({8}, at::kInt)));
  EXPECT_EQ(v1.scales.scalar_type(), at::kHalf);
}

// 3-bit, asym, one group, layer [out 32, in 32]: qweight [3, 32], 32 codes
// of a column over 3 words as one LSB-first bit stream. Column 0 stores
// u[k] = 7 - k % 8, i.e. 7 6 5 4 3 2 1 0 7 6 | 5 | 4 3 2 1 0 7 6 5 4 3 | 2 | 1 0 7 ...
// Three bits are one octal digit, so a word reads as octal (value j at digit j):
//   word 0 = v0..v9 at bits 0..29 = 0o6701234567, + v10 = 0b101's low bits 01
//            at bits 30..31                       -> (1 << 30) | 0o6701234567
//   word 1 = v10's high bit 1 at bit 0, v11..v20 = 4 3 2 1 0 7 6 5 4 3 at bits
//            1..30 (0o3456701234 << 1), v21 = 0b010's low bit 0 at bit 31
//                                                 -> (0o3456701234 << 1) | 1
//   word 2 = v21's high bits 01 at bits 0..1, v22..v31 = 1 0 7 6 5 4 3 2 1 0
//            at bits 2..31                        -> (0o0123456701 << 2) | 1
// Zero points z[n] = 1 + n % 7, v1 stores n % 7 along n the same way:
//   qzeros word 0 = stored 0 1 2 3 4 5 6 0 1 2 | 3 -> (0b11 << 30) | 0o2106543210
TEST(HfGptqLayout, Golden3BitCrossesWords) {
  const at::Tensor u = codes_of(32, 32, [](int64_t n, int64_t k) { return (7 - k % 8 + n) % 8; });
  const at::Tensor z = codes_of(32, 1, [](int64_t n, int64_t) { return 1 + n % 7; });
  const QuantizedWeight w = make_weight(u, 3, Scheme::kAsym, 32, at::full({32, 1}, 0.25f), z);
  const GptqTensors t = gptq_pack(w, /*v1=*/true, "l");
  ASSERT_EQ(t.qweight.sizes(), at::IntArrayRef({3, 32}));
  EXPECT_EQ(word(t.qweight, 0, 0), (1u << 30) | 06701234567u);
  EXPECT_EQ(word(t.qweight, 1, 0), (03456701234u << 1) | 1u);
  EXPECT_EQ(word(t.qweight, 2, 0), (00123456701u << 2) | 1u);
  ASSERT_EQ(t.qzeros.sizes(), at::IntArrayRef({1, 3}));
  EXPECT_EQ(word(t.qzeros, 0, 0), (3u << 30) | 02106543210u);
}

// 2-bit sym, [16, 16], column 0 stores u[k] = k % 4: each byte is 0b11100100
// (3 2 1 0) -> 0xE4E4E4E4; zero point 2, v1 stores 1 in each 2-bit field ->
// 0x55555555. 8-bit sym, [4, 4], column 0 stores 0x01 0x80 0xFF 0x7F -> 0x7FFF8001;
// zero point 128, v1 stores 127 -> 0x7F7F7F7F.
TEST(HfGptqLayout, Golden2And8Bit) {
  const at::Tensor u2 = codes_of(16, 16, [](int64_t n, int64_t k) { return (k + n) % 4; });
  const GptqTensors t2 = gptq_pack(
      make_weight(u2, 2, Scheme::kSym, -1, at::ones({16, 1}), at::zeros({16, 1}, at::kInt)), true,
      "l");
  ASSERT_EQ(t2.qweight.sizes(), at::IntArrayRef({1, 16}));
  EXPECT_EQ(word(t2.qweight, 0, 0), 0xE4E4E4E4u);
  EXPECT_EQ(word(t2.qzeros, 0, 0), 0x55555555u);
  const int col0[4] = {0x01, 0x80, 0xFF, 0x7F};
  const at::Tensor u8 = codes_of(4, 4, [&](int64_t n, int64_t k) { return n == 0 ? col0[k] : 7; });
  const GptqTensors t8 =
      gptq_pack(make_weight(u8, 8, Scheme::kSym, 4, at::ones({4, 1}), at::zeros({4, 1}, at::kInt)),
                true, "l");
  ASSERT_EQ(t8.qweight.sizes(), at::IntArrayRef({1, 4}));
  EXPECT_EQ(word(t8.qweight, 0, 0), 0x7FFF8001u);
  EXPECT_EQ(word(t8.qzeros, 0, 0), 0x7F7F7F7Fu);
}

TEST(HfGptqLayout, AsymZeroPointZeroNeedsV2) {
  const at::Tensor u = codes_of(8, 8, [](int64_t, int64_t k) { return k; });
  const QuantizedWeight w = make_weight(u, 4, Scheme::kAsym, 8, at::ones({8, 1}),
                                        codes_of(8, 1, [](int64_t n, int64_t) { return n; }));
  expect_error([&] { gptq_pack(w, true, "model.layers.0.mlp.up_proj"); },
               "layer 'model.layers.0.mlp.up_proj': asym zero point 0: gptq v1 stores zero - 1");
  const GptqTensors v2 = gptq_pack(w, false, "l");
  EXPECT_EQ(word(v2.qzeros, 0, 0), 0x76543210u);  // zeros 0..7 as they are
}

// ---- AWQ golden words -------------------------------------------------------

// [out 8, in 8], group 8. Row k = 0 of qweight [8, 1] holds columns 0..7 with
// codes 0..7 in nibble slots by AWQ's order [0 2 4 6 1 3 5 7]:
//   slot:    7 6 5 4 3 2 1 0
//   column:  7 5 3 1 6 4 2 0   -> 0x75316420
// zero points 1..8 of columns 0..7, same order -> nibbles 8 6 4 2 7 5 3 1 -> 0x86427531.
TEST(HfAwqLayout, GoldenInterleavedOrder) {
  const at::Tensor u = codes_of(8, 8, [](int64_t n, int64_t k) { return (n + k) % 16; });
  const at::Tensor z = codes_of(8, 1, [](int64_t n, int64_t) { return n + 1; });
  const AwqTensors t = awq_pack(make_weight(u, 4, Scheme::kAsym, 8, at::ones({8, 1}), z), "l");
  ASSERT_EQ(t.qweight.sizes(), at::IntArrayRef({8, 1}));
  EXPECT_EQ(word(t.qweight, 0, 0), 0x75316420u);
  ASSERT_EQ(t.qzeros.sizes(), at::IntArrayRef({1, 1}));
  EXPECT_EQ(word(t.qzeros, 0, 0), 0x86427531u);
  ASSERT_EQ(t.scales.sizes(), at::IntArrayRef({1, 8}));
}

// ---- independent decoders ---------------------------------------------------

/// Value j of a GPTQ bit stream whose words are word(0), word(1), ...: AutoGPTQ's
/// unpacking, 32/b values per word, and for 3 bits its explicit word-split cases.
uint32_t gptq_value(const std::function<uint32_t(int64_t)>& wd, int bits, int64_t j) {
  if (bits != 3) {
    const int64_t per = 32 / bits;
    return (wd(j / per) >> (bits * (j % per))) & ((1u << bits) - 1);
  }
  const int64_t base = (j / 32) * 3, r = j % 32;
  const uint32_t w0 = wd(base), w1 = wd(base + 1), w2 = wd(base + 2);
  if (r < 10) return (w0 >> (3 * r)) & 7;
  if (r == 10) return (w0 >> 30) | ((w1 & 1) << 2);
  if (r < 21) return (w1 >> (3 * (r - 11) + 1)) & 7;
  if (r == 21) return (w1 >> 31) | ((w2 & 3) << 1);
  return (w2 >> (3 * (r - 22) + 2)) & 7;
}

/// W[n, k] = scales[g, n] * (q[k, n] - (stored_zero[g, n] + v1)), g = g_idx[k].
at::Tensor gptq_reference_dequant(const GptqTensors& t, int bits, bool v1, int64_t out,
                                  int64_t in) {
  const at::Tensor scales = t.scales.to(at::kFloat);
  const auto qw = t.qweight.accessor<int32_t, 2>();
  const auto qz = t.qzeros.accessor<int32_t, 2>();
  const auto gi = t.g_idx.accessor<int32_t, 1>();
  const auto sc = scales.accessor<float, 2>();
  at::Tensor w = at::empty({out, in}, at::kFloat);
  auto wa = w.accessor<float, 2>();
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k) {
      const int64_t g = gi[k];
      const uint32_t q =
          gptq_value([&](int64_t i) { return static_cast<uint32_t>(qw[i][n]); }, bits, k);
      const uint32_t z =
          gptq_value([&](int64_t i) { return static_cast<uint32_t>(qz[g][i]); }, bits, n);
      const float zero = static_cast<float>(z) + (v1 ? 1.0f : 0.0f);
      wa[n][k] = sc[g][n] * (static_cast<float>(q) - zero);
    }
  return w;
}

/// W[n, k] = scales[k/g, n] * (q[k, n] - z[k/g, n]); column j of a word is in
/// nibble slot AWQ_REVERSE_ORDER[j % 8] = [0 4 1 5 2 6 3 7].
at::Tensor awq_reference_dequant(const AwqTensors& t, int64_t g, int64_t out, int64_t in) {
  const int reverse[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  const auto qw = t.qweight.accessor<int32_t, 2>();
  const auto qz = t.qzeros.accessor<int32_t, 2>();
  auto nib = [&](int32_t word, int64_t n) {
    return (static_cast<uint32_t>(word) >> (4 * reverse[n % 8])) & 0xF;
  };
  const at::Tensor scales = t.scales.to(at::kFloat);
  const auto sc = scales.accessor<float, 2>();
  at::Tensor w = at::empty({out, in}, at::kFloat);
  auto wa = w.accessor<float, 2>();
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k) {
      const float q = static_cast<float>(nib(qw[k][n / 8], n));
      const float z = static_cast<float>(nib(qz[k / g][n / 8], n));
      wa[n][k] = sc[k / g][n] * (q - z);
    }
  return w;
}

/// qtune's dequantized weight with its scales rounded to fp16 (what the format holds).
at::Tensor fp16_scaled_dequant(QuantizedWeight w) {
  w.scale = w.scale.to(at::kHalf).to(at::kFloat);
  return w.dequantize();
}

/// Random layers: the weights of a seeded normal matrix quantized with `spec`;
/// with `act_order`, random codes and params and a shuffled g_idx.
QuantizedWeight random_layer(int64_t out, int64_t in, const QuantSpec& spec, bool act_order,
                             uint64_t seed) {
  at::manual_seed(seed);
  if (!act_order) return QuantizedWeight::from_float(at::randn({out, in}), spec);
  QuantSpec s = spec;
  s.has_g_idx = true;
  const int64_t G = s.groups_per_row(in);
  const at::Tensor g_idx =
      at::div(at::argsort(at::randperm(in, at::kLong)), s.group_size, "floor").to(at::kInt);
  const at::Tensor codes = at::randint(s.qmin(), s.qmax() + 1, {out, in}, at::kInt);
  const at::Tensor scale = at::rand({out, G}) * 0.1 + 0.01;
  const at::Tensor zero = at::randint(1, int64_t{1} << s.bits, {out, G}, at::kInt);
  return QuantizedWeight::from_codes(codes, {scale, zero}, s, {out, in}, g_idx);
}

struct LayoutCase {
  int bits;
  Scheme scheme;
  int64_t group_size;  ///< -1 per-channel
  bool act_order;
};

class GptqDecoder : public ::testing::TestWithParam<LayoutCase> {};

TEST_P(GptqDecoder, PublishedFormulaGivesQtuneWeights) {
  const LayoutCase c = GetParam();
  QuantSpec s;
  s.bits = c.bits;
  s.scheme = c.scheme;
  s.granularity = c.group_size == -1 ? Granularity::kPerChannel : Granularity::kPerGroup;
  if (c.group_size != -1) s.group_size = c.group_size;
  // in 96 = 3 groups of 32 (3 bits: 96 * 3 = 9 words); out 64 straddles nothing at 2..8 bits.
  const int64_t out = 64, in = 96;
  const QuantizedWeight w = random_layer(out, in, s, c.act_order, 1000 + c.bits);
  const at::Tensor expected = fp16_scaled_dequant(w);
  ASSERT_GT(expected.abs().sum().item<double>(), 0.0);
  // The fp16 rounding of a scale changes a weight by at most 2^-11 of itself.
  EXPECT_TRUE(at::allclose(expected, w.dequantize(), 1.0 / 2048, 1e-7));
  for (bool v1 : {true, false}) {
    if (v1 && c.scheme == Scheme::kAsym && (w.zero == 0).any().item<bool>()) continue;
    const GptqTensors t = gptq_pack(w, v1, "l");
    EXPECT_TRUE(at::equal(gptq_reference_dequant(t, c.bits, v1, out, in), expected)) << "v1 " << v1;
    // And qtune's reader gives back the same codes.
    const QuantizedWeight back =
        gptq_unpack(t, gptq_layer_format(w.spec), v1, out, in, "file", "l");
    EXPECT_TRUE(at::equal(back.packed, w.packed));
    EXPECT_TRUE(at::equal(back.dequantize(), expected));
    EXPECT_EQ(back.spec.scheme, c.scheme);
    EXPECT_EQ(back.spec.has_g_idx, c.act_order);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GptqDecoder,
                         ::testing::Values(LayoutCase{4, Scheme::kSym, 32, false},
                                           LayoutCase{4, Scheme::kAsym, 32, false},
                                           LayoutCase{3, Scheme::kSym, 32, false},
                                           LayoutCase{3, Scheme::kAsym, -1, false},
                                           LayoutCase{2, Scheme::kAsym, 32, false},
                                           LayoutCase{8, Scheme::kSym, -1, false},
                                           LayoutCase{4, Scheme::kAsym, 32, true},
                                           LayoutCase{3, Scheme::kAsym, 32, true}));

TEST(AwqDecoder, PublishedFormulaGivesQtuneWeights) {
  for (Scheme scheme : {Scheme::kSym, Scheme::kAsym}) {
    QuantSpec s;
    s.bits = 4;
    s.scheme = scheme;
    s.group_size = 32;
    const int64_t out = 24, in = 64;  // 3 words per row, 2 groups
    const QuantizedWeight w = random_layer(out, in, s, false, 7);
    const AwqTensors t = awq_pack(w, "l");
    const at::Tensor expected = fp16_scaled_dequant(w);
    ASSERT_GT(expected.abs().sum().item<double>(), 0.0);
    EXPECT_TRUE(at::equal(awq_reference_dequant(t, 32, out, in), expected));
    const QuantizedWeight back = awq_unpack(t, 32, out, in, "file", "l");
    EXPECT_TRUE(at::equal(back.packed, w.packed));
    EXPECT_EQ(back.spec.scheme, scheme);
  }
}

TEST(HfLayouts, RefuseWhatTheyCannotCarry) {
  QuantSpec s;
  s.bits = 4;
  s.group_size = 32;
  const std::vector<int64_t> shape{64, 64};
  EXPECT_EQ(gptq_cannot_carry(s, shape), "");
  EXPECT_EQ(awq_cannot_carry(s, shape), "");
  auto with = [&](const std::function<void(QuantSpec&)>& f) {
    QuantSpec t = s;
    f(t);
    return t;
  };
  const QuantSpec nf4 = with([](QuantSpec& t) { t.dtype = DType::kNf4; });
  EXPECT_NE(gptq_cannot_carry(nf4, shape).find("dtype nf4"), std::string::npos);
  const QuantSpec dq = with([](QuantSpec& t) { t.scale_quant.bits = 8; });
  EXPECT_NE(gptq_cannot_carry(dq, shape).find("double-quantized scales"), std::string::npos);
  const QuantSpec hqq = with([](QuantSpec& t) {
    t.scheme = Scheme::kAsym;
    t.float_zero = true;
  });
  EXPECT_NE(awq_cannot_carry(hqq, shape).find("float zero point"), std::string::npos);
  const QuantSpec gd0 = with([](QuantSpec& t) { t.group_dim = 0; });
  EXPECT_NE(gptq_cannot_carry(gd0, shape).find("group_dim 0"), std::string::npos);
  const QuantSpec b5 = with([](QuantSpec& t) { t.bits = 5; });
  EXPECT_NE(gptq_cannot_carry(b5, shape).find("bits 5"), std::string::npos);
  const QuantSpec b3 = with([](QuantSpec& t) { t.bits = 3; });
  EXPECT_EQ(gptq_cannot_carry(b3, shape), "");
  EXPECT_NE(awq_cannot_carry(b3, shape).find("bits 3: the format packs 4 bits"), std::string::npos);
  EXPECT_NE(gptq_cannot_carry(b3, {64, 48}).find("in_features 48 at 3 bits"), std::string::npos);
  const QuantSpec pc = with([](QuantSpec& t) { t.granularity = Granularity::kPerChannel; });
  EXPECT_EQ(gptq_cannot_carry(pc, shape), "");
  EXPECT_NE(awq_cannot_carry(pc, shape).find("per-channel"), std::string::npos);
  const QuantSpec act = with([](QuantSpec& t) { t.has_g_idx = true; });
  EXPECT_EQ(gptq_cannot_carry(act, shape), "");
  EXPECT_NE(awq_cannot_carry(act, shape).find("act_order"), std::string::npos);
}

}  // namespace
}  // namespace qtune
