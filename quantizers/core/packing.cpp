#include "quantizers/core/packing.h"

#include "common/error.h"

namespace qtune {

namespace {

void check_bits(int bits) {
  QT_CHECK(bits >= 1 && bits <= 8, "pack bits must be in 1..8, got ", bits);
}

/// Bit offsets of the P slots of a word: [P] int64 {0, bits, 2*bits, ...}.
at::Tensor slot_shifts(int bits) {
  return at::arange(values_per_word(bits), at::kLong) * static_cast<int64_t>(bits);
}

}  // namespace

int values_per_word(int bits) {
  check_bits(bits);
  return 32 / bits;
}

at::Tensor pack_rows(const at::Tensor& unsigned_codes, int bits) {
  check_bits(bits);
  QT_CHECK(unsigned_codes.defined() && unsigned_codes.dim() == 2,
           "pack_rows: expected 2-D codes, got ",
           unsigned_codes.defined() ? unsigned_codes.dim() : 0, " dims");
  const int64_t rows = unsigned_codes.size(0);
  const int64_t cols = unsigned_codes.size(1);
  const int64_t per_word = values_per_word(bits);
  const int64_t words = (cols + per_word - 1) / per_word;
  // Work in int64: a slot shifted into bit 31 would overflow int32 arithmetic.
  at::Tensor c = unsigned_codes.to(at::kLong);
  if (c.numel() > 0) {
    const int64_t lo = c.min().item<int64_t>();
    const int64_t hi = c.max().item<int64_t>();
    QT_CHECK(lo >= 0 && hi < (int64_t{1} << bits), "pack_rows: codes must be in [0, ",
             (int64_t{1} << bits) - 1, "] for ", bits, " bits, got range [", lo, ", ", hi, "]");
  }
  if (words * per_word != cols) c = at::constant_pad_nd(c, {0, words * per_word - cols}, 0);
  // Slots occupy disjoint bits, so the sum is the bitwise OR.
  const at::Tensor w64 =
      at::bitwise_left_shift(c.reshape({rows, words, per_word}), slot_shifts(bits)).sum(-1);
  // Values >= 2^31 wrap to negative int32: the word keeps its bit pattern.
  return at::where(w64 >= (int64_t{1} << 31), w64 - (int64_t{1} << 32), w64).to(at::kInt);
}

at::Tensor unpack_rows(const at::Tensor& words, int bits, int64_t cols) {
  check_bits(bits);
  QT_CHECK(words.defined() && words.dim() == 2 && words.scalar_type() == at::kInt,
           "unpack_rows: expected 2-D int32 words");
  const int64_t per_word = values_per_word(bits);
  QT_CHECK(cols >= 0 && (cols + per_word - 1) / per_word == words.size(1), "unpack_rows: ", cols,
           " columns of ", bits, "-bit values need ", (cols + per_word - 1) / per_word,
           " words per row, got ", words.size(1));
  const at::Tensor w64 = words.to(at::kLong).bitwise_and(int64_t{0xFFFFFFFF}).unsqueeze(-1);
  const at::Tensor codes =
      at::bitwise_right_shift(w64, slot_shifts(bits)).bitwise_and((int64_t{1} << bits) - 1);
  return codes.reshape({words.size(0), -1}).narrow(1, 0, cols).to(at::kInt).contiguous();
}

at::Tensor to_unsigned(const at::Tensor& codes, const QuantSpec& spec) {
  if (spec.scheme == Scheme::kAsym) return codes;
  return codes + (int64_t{1} << (spec.bits - 1));
}

at::Tensor from_unsigned(const at::Tensor& stored, const QuantSpec& spec) {
  if (spec.scheme == Scheme::kAsym) return stored;
  return stored - (int64_t{1} << (spec.bits - 1));
}

}  // namespace qtune
