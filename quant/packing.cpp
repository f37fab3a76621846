#include "quant/packing.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "common/error.h"

namespace qtune {

namespace {

void check_bits(int bits) {
  QT_CHECK(bits >= 1 && bits <= 8, "pack bits must be in 1..8, got ", bits);
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
  const at::Tensor c = unsigned_codes.to(at::kInt).contiguous();
  if (c.numel() > 0) {
    const int64_t lo = c.min().item<int64_t>();
    const int64_t hi = c.max().item<int64_t>();
    QT_CHECK(lo >= 0 && hi < (int64_t{1} << bits), "pack_rows: codes must be in [0, ",
             (int64_t{1} << bits) - 1, "] for ", bits, " bits, got range [", lo, ", ", hi, "]");
  }
  at::Tensor out = at::empty({rows, words}, at::kInt);
  const int32_t* src = c.data_ptr<int32_t>();
  int32_t* dst = out.data_ptr<int32_t>();
  // A plain loop: ATen's shift-and-sum takes over a second on 4096x4096.
  at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t* in = src + r * cols;
      for (int64_t k = 0; k < words; ++k) {
        uint32_t word = 0;
        const int64_t j0 = k * per_word, j1 = std::min(cols, j0 + per_word);
        for (int64_t j = j0; j < j1; ++j) word |= static_cast<uint32_t>(in[j]) << (bits * (j - j0));
        dst[r * words + k] = static_cast<int32_t>(word);  // keeps the bit pattern
      }
    }
  });
  return out;
}

at::Tensor unpack_rows(const at::Tensor& words, int bits, int64_t cols) {
  check_bits(bits);
  QT_CHECK(words.defined() && words.dim() == 2 && words.scalar_type() == at::kInt,
           "unpack_rows: expected 2-D int32 words");
  const int64_t per_word = values_per_word(bits);
  const int64_t n_words = (cols + per_word - 1) / per_word;
  QT_CHECK(cols >= 0 && n_words == words.size(1), "unpack_rows: ", cols, " columns of ", bits,
           "-bit values need ", n_words, " words per row, got ", words.size(1));
  const int64_t rows = words.size(0);
  const at::Tensor w = words.contiguous();
  at::Tensor out = at::empty({rows, cols}, at::kInt);
  const uint32_t mask = (uint32_t{1} << bits) - 1;
  const int32_t* src = w.data_ptr<int32_t>();
  int32_t* dst = out.data_ptr<int32_t>();
  at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int32_t* o = dst + r * cols;
      for (int64_t k = 0; k < n_words; ++k) {
        const uint32_t word = static_cast<uint32_t>(src[r * n_words + k]);
        const int64_t j0 = k * per_word, j1 = std::min(cols, j0 + per_word);
        for (int64_t j = j0; j < j1; ++j)
          o[j] = static_cast<int32_t>((word >> (bits * (j - j0))) & mask);
      }
    }
  });
  return out;
}

at::Tensor to_unsigned(const at::Tensor& codes, const QuantSpec& spec) {
  // Asym codes and table indices (nf4/fp4) are unsigned already.
  if (spec.scheme == Scheme::kAsym || spec.dtype != DType::kInt) return codes;
  return codes + (int64_t{1} << (spec.bits - 1));
}

at::Tensor from_unsigned(const at::Tensor& stored, const QuantSpec& spec) {
  if (spec.scheme == Scheme::kAsym || spec.dtype != DType::kInt) return stored;
  return stored - (int64_t{1} << (spec.bits - 1));
}

}  // namespace qtune
