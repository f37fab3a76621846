// Bit packing: golden words for the layout drawn in packing.h, and a round
// trip against a plain scalar packer for every width on sizes that straddle
// word boundaries.
#include "quant/packing.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/error.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 7;

at::Tensor codes_row(std::vector<int> v) {
  return at::tensor(v, at::kInt).reshape({1, static_cast<int64_t>(v.size())});
}

uint32_t word(const at::Tensor& packed, int64_t r, int64_t k) {
  return static_cast<uint32_t>(packed.index({r, k}).item<int32_t>());
}

/// Scalar twin of pack_rows: element j of word k at bits [bits*j, bits*(j+1)).
std::vector<uint32_t> ref_pack(const std::vector<int>& codes, int64_t rows, int64_t cols,
                               int bits) {
  const int64_t per = 32 / bits, words = (cols + per - 1) / per;
  std::vector<uint32_t> out(rows * words, 0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[i * words + j / per] |= static_cast<uint32_t>(codes[i * cols + j]) << (bits * (j % per));
  return out;
}

TEST(PackingGolden, ValuesPerWord) {
  const int expected[] = {32, 16, 10, 8, 6, 5, 4, 4};
  for (int b = 1; b <= 8; ++b) EXPECT_EQ(values_per_word(b), expected[b - 1]) << b;
  EXPECT_THROW(values_per_word(0), Error);
  EXPECT_THROW(values_per_word(9), Error);
}

TEST(PackingGolden, FourBitLsbFirst) {
  const at::Tensor p = pack_rows(codes_row({0, 1, 2, 3, 4, 5, 6, 7}), 4);
  ASSERT_EQ(p.sizes(), at::IntArrayRef({1, 1}));
  EXPECT_EQ(word(p, 0, 0), 0x76543210u);
  // The top nibble set: the word is negative as int32 but keeps its bits.
  EXPECT_EQ(word(pack_rows(codes_row({8, 9, 10, 11, 12, 13, 14, 15}), 4), 0, 0), 0xFEDCBA98u);
}

TEST(PackingGolden, OtherWidths) {
  EXPECT_EQ(word(pack_rows(codes_row({0x11, 0x22, 0x33, 0x44}), 8), 0, 0), 0x44332211u);
  EXPECT_EQ(word(pack_rows(at::ones({1, 32}, at::kInt), 1), 0, 0), 0xFFFFFFFFu);
  // 2-bit 1,2,3,0 repeated: nibble 0b00111001 = 0x39 per 4 values.
  EXPECT_EQ(word(pack_rows(codes_row({1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0}), 2), 0, 0),
            0x39393939u);
  // 5-bit: 6 values use bits 0..29, the top 2 bits stay 0.
  EXPECT_EQ(word(pack_rows(at::full({1, 6}, 31, at::kInt), 5), 0, 0), 0x3FFFFFFFu);
  // 3-bit: 10 values, 7 at slot 9 -> bits 27..29.
  EXPECT_EQ(word(pack_rows(codes_row({1, 0, 0, 0, 0, 0, 0, 0, 0, 7}), 3), 0, 0), (7u << 27) | 1u);
}

TEST(PackingGolden, PartialLastWord) {
  // 9 four-bit values: word 0 holds columns 0..7, word 1 holds column 8 in its low nibble.
  const at::Tensor p = pack_rows(codes_row({1, 2, 3, 4, 5, 6, 7, 8, 9}), 4);
  ASSERT_EQ(p.sizes(), at::IntArrayRef({1, 2}));
  EXPECT_EQ(word(p, 0, 0), 0x87654321u);
  EXPECT_EQ(word(p, 0, 1), 0x9u);
}

TEST(PackingRoundTrip, EveryWidthAndStraddlingSize) {
  at::manual_seed(kSeed);
  const int64_t rows = 3;
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t cols : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129}) {
      const at::Tensor codes = at::randint(0, int64_t{1} << bits, {rows, cols}, at::kInt);
      const at::Tensor packed = pack_rows(codes, bits);
      const std::vector<int> cv(codes.data_ptr<int>(), codes.data_ptr<int>() + codes.numel());
      const std::vector<uint32_t> ref = ref_pack(cv, rows, cols, bits);
      ASSERT_EQ(packed.numel(), static_cast<int64_t>(ref.size())) << bits << " " << cols;
      ASSERT_EQ(packed.scalar_type(), at::kInt);
      for (size_t i = 0; i < ref.size(); ++i)
        ASSERT_EQ(static_cast<uint32_t>(packed.data_ptr<int32_t>()[i]), ref[i])
            << "bits=" << bits << " cols=" << cols << " word " << i << " seed=" << kSeed;
      EXPECT_TRUE(at::equal(unpack_rows(packed, bits, cols), codes)) << bits << " " << cols;
    }
  }
}

TEST(PackingErrors, OutOfRangeCodesAndWrongWordCount) {
  EXPECT_THROW(pack_rows(codes_row({16}), 4), Error);
  EXPECT_THROW(pack_rows(codes_row({-1}), 4), Error);
  EXPECT_THROW(unpack_rows(at::zeros({1, 2}, at::kInt), 4, 17), Error);  // 17 needs 3 words
}

TEST(PackingSigned, SymCodesShiftByHalfTheRange) {
  QuantSpec s;
  s.bits = 4;
  const at::Tensor q = codes_row({-8, -1, 0, 7});
  EXPECT_TRUE(at::equal(to_unsigned(q, s), codes_row({0, 7, 8, 15})));
  EXPECT_TRUE(at::equal(from_unsigned(to_unsigned(q, s), s), q));
  s.scheme = Scheme::kAsym;
  EXPECT_TRUE(at::equal(to_unsigned(codes_row({0, 15}), s), codes_row({0, 15})));
}

}  // namespace
}  // namespace qtune
