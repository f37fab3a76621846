// Quantization semantics pinned by small tables worked by hand (INC's formulas,
// quant/quantize.h). Values are chosen so that every scale is exact
// in float, so codes and dequantized weights compare exactly.
#include <gtest/gtest.h>

#include <vector>

#include "common/error.h"
#include "quant/quantize.h"

namespace qtune {
namespace {

at::Tensor row(std::vector<float> v) {
  return at::tensor(v, at::kFloat).reshape({1, static_cast<int64_t>(v.size())});
}

std::vector<int> codes_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous().to(at::kInt);
  return std::vector<int>(c.data_ptr<int>(), c.data_ptr<int>() + c.numel());
}

std::vector<float> floats_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous().to(at::kFloat);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

QuantSpec per_channel(int bits, Scheme scheme) {
  QuantSpec s;
  s.bits = bits;
  s.scheme = scheme;
  s.granularity = Granularity::kPerChannel;
  return s;
}

TEST(QuantSpec, CodeRanges) {
  // sym [-2^(b-1), 2^(b-1)-1], asym [0, 2^b-1]
  EXPECT_EQ(per_channel(4, Scheme::kSym).qmin(), -8);
  EXPECT_EQ(per_channel(4, Scheme::kSym).qmax(), 7);
  EXPECT_EQ(per_channel(1, Scheme::kSym).qmin(), -1);
  EXPECT_EQ(per_channel(1, Scheme::kSym).qmax(), 0);
  EXPECT_EQ(per_channel(8, Scheme::kSym).qmin(), -128);
  EXPECT_EQ(per_channel(4, Scheme::kAsym).qmin(), 0);
  EXPECT_EQ(per_channel(4, Scheme::kAsym).qmax(), 15);
  EXPECT_EQ(per_channel(1, Scheme::kAsym).qmax(), 1);
}

TEST(QuantSpec, GroupsPerRow) {
  QuantSpec s;
  s.group_size = 32;
  EXPECT_EQ(s.groups_per_row(32), 1);
  EXPECT_EQ(s.groups_per_row(33), 2);  // trailing partial group is its own group
  EXPECT_EQ(s.groups_per_row(1), 1);
  s.group_size = 1;
  EXPECT_EQ(s.groups_per_row(7), 7);
  s.granularity = Granularity::kPerChannel;
  EXPECT_EQ(s.groups_per_row(100), 1);
  EXPECT_EQ(s.effective_group_size(100), 100);
}

// A group wider than the row is the row: no padding out to group_size (a huge
// value would allocate gigabytes) and the same codes as per-channel.
TEST(QuantSpec, GroupWiderThanTheRowIsTheRow) {
  QuantSpec wide;
  wide.group_size = int64_t{1} << 62;
  EXPECT_EQ(wide.groups_per_row(100), 1);
  EXPECT_EQ(wide.effective_group_size(100), 100);
  QuantSpec row = wide;
  row.granularity = Granularity::kPerChannel;
  at::manual_seed(3);
  const at::Tensor w = at::randn({4, 100});
  EXPECT_TRUE(at::equal(fake_quantize(w, wide), fake_quantize(w, row)));
}

TEST(QuantSpec, BadSpecsAreErrors) {
  QuantSpec s;
  s.bits = 0;
  EXPECT_THROW(s.validate(), Error);
  s.bits = 9;
  EXPECT_THROW(s.validate(), Error);
  s = QuantSpec{};
  s.group_size = 0;
  try {
    s.validate();
    FAIL() << "group_size 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("group size must be -1 or >= 1"), std::string::npos);
  }
  s = QuantSpec{};
  s.clip_ratio = 0.0;
  EXPECT_THROW(s.validate(), Error);
  s.clip_ratio = 1.5;
  EXPECT_THROW(s.validate(), Error);
  s = QuantSpec{};
  s.scheme = Scheme::kAsym;
  s.full_range = true;
  EXPECT_THROW(s.validate(), Error);
  EXPECT_THROW(scheme_from_string("symmetric"), Error);
  EXPECT_EQ(scheme_from_string("asym"), Scheme::kAsym);
  EXPECT_THROW(compute_params(at::ones({4}), QuantSpec{}), Error);  // 1-D is not a weight
}

TEST(QuantizeGolden, SymTiesRoundHalfToEven) {
  // absmax 7, 4-bit: scale = 7/7 = 1, so codes are round(w):
  // 2.5->2, 3.5->4, -2.5->-2, 0.5->0, -0.5->0, 1.5->2 (half to even, as torch.round).
  const at::Tensor w = row({7, -7, 2.5, 3.5, -2.5, 0.5, -0.5, 1.5});
  const QuantSpec s = per_channel(4, Scheme::kSym);
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f}));
  EXPECT_EQ(codes_of(p.zero), std::vector<int>({0}));
  const at::Tensor q = quantize_codes(w, p, s);
  EXPECT_EQ(codes_of(q), std::vector<int>({7, -7, 2, 4, -2, 0, 0, 2}));
  EXPECT_EQ(floats_of(dequantize_codes(q, p, s)), std::vector<float>({7, -7, 2, 4, -2, 0, 0, 2}));
}

TEST(QuantizeGolden, SymClampsToCodeRange) {
  // Given scale 1: 9 -> 7, -9 -> -8, 7.6 -> round 8 -> 7, -8 stays.
  const QuantSpec s = per_channel(4, Scheme::kSym);
  const QuantParams p{at::ones({1, 1}), at::zeros({1, 1}, at::kInt)};
  EXPECT_EQ(codes_of(quantize_codes(row({9, -9, 7.6f, -8}), p, s)),
            std::vector<int>({7, -8, 7, -8}));
}

TEST(QuantizeGolden, SymFullRangeFlipsSignTowardTheLargerExtreme) {
  // full_range: scale = absmax / 2^(b-1) = absmax / 8. Row 1: |min| = 4 > |max| = 3,
  // scale 0.5, -4 -> -8. Row 2: |max| = 4 > |min| = 1, scale -0.5 so that 4 -> -8
  // and the positive extreme is exact too.
  const at::Tensor w = at::tensor({1.f, -4.f, 2.f, 3.f, 4.f, -1.f, 3.f, 0.5f}).reshape({2, 4});
  QuantSpec s = per_channel(4, Scheme::kSym);
  s.full_range = true;
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({0.5f, -0.5f}));
  const at::Tensor q = quantize_codes(w, p, s);
  EXPECT_EQ(codes_of(q), std::vector<int>({2, -8, 4, 6, -8, 2, -6, -1}));
  EXPECT_EQ(floats_of(dequantize_codes(q, p, s)), floats_of(w));
}

TEST(QuantizeGolden, OneBitSymIsFullRange) {
  // 1-bit sym has qmax 0: codes {-1, 0}, scale = -absmax when the max dominates.
  const QuantSpec s = per_channel(1, Scheme::kSym);
  const at::Tensor w = row({3, -1, 1.4f, 1.6f});
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({-3.0f}));
  // w/scale = -1, 0.33, -0.47, -0.53 -> -1, 0, 0, -1
  EXPECT_EQ(codes_of(quantize_codes(w, p, s)), std::vector<int>({-1, 0, 0, -1}));
}

TEST(QuantizeGolden, AsymZeroPoint) {
  // min -3, max 12, 4-bit: scale = 15/15 = 1, zero = round(3) = 3;
  // codes = round(w) + 3: -3->0, 12->15, 0.5->0+3, 1.5->2+3, -2.5->-2+3.
  const at::Tensor w = row({-3, 12, 0.5, 1.5, -2.5});
  const QuantSpec s = per_channel(4, Scheme::kAsym);
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f}));
  EXPECT_EQ(codes_of(p.zero), std::vector<int>({3}));
  const at::Tensor q = quantize_codes(w, p, s);
  EXPECT_EQ(codes_of(q), std::vector<int>({0, 15, 3, 5, 1}));
  EXPECT_EQ(floats_of(dequantize_codes(q, p, s)), std::vector<float>({-3, 12, 0, 2, -2}));
}

TEST(QuantizeGolden, AsymZeroTieAndClamp) {
  // 2-bit, row [-1.5, 1.5]: scale = 3/3 = 1, zero = round(1.5) = 2 (half to even);
  // codes: round(-1.5) + 2 = 0, round(1.5) + 2 = 4 -> clamped to 3.
  const at::Tensor w = row({-1.5, 1.5});
  const QuantSpec s = per_channel(2, Scheme::kAsym);
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(codes_of(p.zero), std::vector<int>({2}));
  const at::Tensor q = quantize_codes(w, p, s);
  EXPECT_EQ(codes_of(q), std::vector<int>({0, 3}));
  EXPECT_EQ(floats_of(dequantize_codes(q, p, s)), std::vector<float>({-2, 1}));
}

TEST(QuantizeGolden, AsymRangeContainsZero) {
  // All positive [1, 2, 3], 2-bit: range forced to [0, 3], scale 1, zero 0.
  const at::Tensor w = row({1, 2, 3});
  const QuantSpec s = per_channel(2, Scheme::kAsym);
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f}));
  EXPECT_EQ(codes_of(p.zero), std::vector<int>({0}));
  EXPECT_EQ(codes_of(quantize_codes(w, p, s)), std::vector<int>({1, 2, 3}));
}

TEST(QuantizeGolden, ZeroRangeGroupGetsScaleOne) {
  for (Scheme scheme : {Scheme::kSym, Scheme::kAsym}) {
    const QuantSpec s = per_channel(4, scheme);
    const at::Tensor w = at::zeros({2, 3});
    const QuantParams p = compute_params(w, s);
    EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f, 1.0f})) << to_string(scheme);
    EXPECT_EQ(codes_of(p.zero), std::vector<int>({0, 0}));
    const at::Tensor fq = fake_quantize(w, s);
    EXPECT_FALSE(fq.isnan().any().item<bool>());
    EXPECT_TRUE(fq.eq(0).all().item<bool>());
  }
}

TEST(QuantizeGolden, ClipRatioShrinksTheRange) {
  // clip 0.5: absmax 14 -> 7, scale 1; 14 is clamped to 7.
  QuantSpec s = per_channel(4, Scheme::kSym);
  s.clip_ratio = 0.5;
  const at::Tensor w = row({14, -7, 3});
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f}));
  EXPECT_EQ(codes_of(quantize_codes(w, p, s)), std::vector<int>({7, -7, 3}));
}

TEST(QuantizeGolden, PerGroupWithTrailingPartialGroup) {
  // cols 5, group 2 -> groups {7, 1} {-14, 3.5} {0.75}: scales 1, 2, 0.75/7.
  // codes: 7, 1 | -7, round(1.75) = 2 | 7.
  QuantSpec s;
  s.bits = 4;
  s.granularity = Granularity::kPerGroup;
  s.group_size = 2;
  const at::Tensor w = row({7, 1, -14, 3.5, 0.75});
  const QuantParams p = compute_params(w, s);
  ASSERT_EQ(p.scale.sizes(), at::IntArrayRef({1, 3}));
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f, 2.0f, 0.75f / 7.0f}));
  EXPECT_EQ(codes_of(quantize_codes(w, p, s)), std::vector<int>({7, 1, -7, 2, 7}));
}

TEST(QuantizeGolden, FullRangeKeepsAnEqualPositiveGroupExact) {
  // The trailing group {2} has max == min > 0. INC flips only when
  // |max| > |min| and would give scale +2/8 and 2 -> 8 -> clamped 7 -> 1.75;
  // we flip on the tie too: scale -2/8, 2 -> -8 -> exactly 2.
  QuantSpec s;
  s.bits = 4;
  s.full_range = true;
  s.group_size = 2;
  const at::Tensor w = row({-1, 0.5, 2});
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f / 8, -2.0f / 8}));
  EXPECT_EQ(floats_of(fake_quantize(w, s)), std::vector<float>({-1, 0.5, 2}));
}

TEST(QuantizeGolden, GptqSymGridTiesAtBothExtremes) {
  // GPTQ's grid, 4-bit: scale = 2 * absmax / (2^4 - 1) = 2 * 7.5 / 15 = 1 (RTN's would be
  // 7.5 / 7). INC's GPTQ codes are clamp(round(w / scale) + 8, 0, 15), stored here minus 8:
  //   7.5 -> round 8 (half to even) + 8 = 16 -> clamped 15 -> 7    (7.5 becomes 7)
  //  -7.5 -> round -8 + 8 = 0                                  -> -8   (exact)
  //   6.5 -> 6, -6.5 -> -6, 0.5 -> 0, -0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (half to even)
  const at::Tensor w = row({7.5, -7.5, 6.5, -6.5, 0.5, -0.5, 1.5, 2.5});
  QuantSpec s = per_channel(4, Scheme::kSym);
  s.sym_grid = SymGrid::kGptq;
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f}));
  EXPECT_EQ(codes_of(p.zero), std::vector<int>({0}));
  const at::Tensor q = quantize_codes(w, p, s);
  EXPECT_EQ(codes_of(q), std::vector<int>({7, -8, 6, -6, 0, 0, 2, 2}));
  EXPECT_EQ(floats_of(dequantize_codes(q, p, s)), std::vector<float>({7, -8, 6, -6, 0, 0, 2, 2}));
}

TEST(QuantizeGolden, GptqSymGridPerGroup3Bit) {
  // 3-bit, groups of 4, scale = 2 * absmax / 7; codes in [-4, 3]:
  //   {1.75, -1.75, 0.25, -0.75}: scale 0.5;  w/s = 3.5 -> 4 -> 3, -3.5 -> -4, 0.5 -> 0, -1.5 -> -2
  //   {0.875, 0.25, -0.375, 0.5}: scale 0.25; w/s = 3.5 -> 3, 1, -1.5 -> -2, 2
  //   {3.5} (trailing, no negative value): scale 1; 3.5 -> 4 -> 3. (INC's GPTQ keeps
  //   xmin = 0 for such a group: scale 3.5 / 7 = 0.5 and 3.5 -> clamped to 3 -> 1.5.)
  QuantSpec s;
  s.bits = 3;
  s.group_size = 4;
  s.sym_grid = SymGrid::kGptq;
  const at::Tensor w = row({1.75, -1.75, 0.25, -0.75, 0.875, 0.25, -0.375, 0.5, 3.5});
  const QuantParams p = compute_params(w, s);
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({0.5f, 0.25f, 1.0f}));
  const at::Tensor q = quantize_codes(w, p, s);
  EXPECT_EQ(codes_of(q), std::vector<int>({3, -4, 0, -2, 3, 1, -2, 2, 3}));
  EXPECT_EQ(floats_of(dequantize_codes(q, p, s)),
            std::vector<float>({1.5, -2, 0, -1, 0.75, 0.25, -0.5, 0.5, 3}));
  // RTN's sym formula on the first group: scale 1.75 / 3, so -1.75 -> -3, never -4.
  s.sym_grid = SymGrid::kRtn;
  EXPECT_EQ(codes_of(quantize_codes(w, compute_params(w, s), s)).at(1), -3);
}

TEST(QuantizeGolden, GptqSymGridNeedsSymIntWithoutFullRange) {
  QuantSpec s;
  s.sym_grid = SymGrid::kGptq;
  EXPECT_NO_THROW(s.validate());
  s.full_range = true;
  EXPECT_THROW(s.validate(), Error);
  s.full_range = false;
  s.scheme = Scheme::kAsym;
  EXPECT_THROW(s.validate(), Error);
  s.scheme = Scheme::kSym;
  s.dtype = DType::kNf4;
  EXPECT_THROW(s.validate(), Error);
  EXPECT_EQ(sym_grid_from_string(to_string(SymGrid::kGptq)), SymGrid::kGptq);
  EXPECT_EQ(sym_grid_from_string("rtn"), SymGrid::kRtn);
  EXPECT_THROW(sym_grid_from_string("full"), Error);
}

TEST(QuantizeGolden, PerTensorHasOneScale) {
  // absmax over the whole tensor 7 -> scale 1; 1.5 -> 2, -2.5 -> -2 (even), 0.5 -> 0.
  QuantSpec s = per_channel(4, Scheme::kSym);
  s.granularity = Granularity::kPerTensor;
  const at::Tensor w = at::tensor({1.5f, -2.5f, 7.f, 0.5f}).reshape({2, 2});
  const QuantParams p = compute_params(w, s);
  ASSERT_EQ(p.scale.sizes(), at::IntArrayRef({1, 1}));
  EXPECT_EQ(floats_of(p.scale), std::vector<float>({1.0f}));
  EXPECT_EQ(codes_of(quantize_codes(w, p, s)), std::vector<int>({2, -2, 7, 0}));
}

TEST(QuantizeGolden, ParamShapeMismatchIsAnError) {
  const QuantSpec s = per_channel(4, Scheme::kSym);
  const QuantParams p{at::ones({3, 1}), at::zeros({3, 1}, at::kInt)};
  EXPECT_THROW(quantize_codes(at::ones({2, 4}), p, s), Error);
}

}  // namespace
}  // namespace qtune
