// Bit packing of integer codes into int32 words.
//
// Values are stored unsigned: a sym code q in [-2^(b-1), 2^(b-1)-1] is stored
// as q + 2^(b-1) (see to_unsigned/from_unsigned). Each row is packed
// independently; P = 32 / bits values per word (3, 5, 6, 7 bits waste the top
// 32 - P*bits bits), so a row of `cols` values takes ceil(cols / P) words.
//
// Element j of a word sits at bits [bits*j, bits*(j+1)), LSB first:
//
//   4-bit, word k of a row holds columns 8k .. 8k+7:
//   bit 31                                                  bit 0
//   | c7 | c6 | c5 | c4 | c3 | c2 | c1 | c0 |
//
// (INC/AutoGPTQ use the same in-word order, but pack along K; see
// shared/reference/woq-peers-and-formats.md.)
#pragma once

#include <ATen/ATen.h>

#include "quant/quant_spec.h"

namespace qtune {

/// Values per int32 word.
int values_per_word(int bits);

/// int32 codes [rows, cols] in [0, 2^bits) -> int32 words [rows, ceil(cols/P)].
at::Tensor pack_rows(const at::Tensor& unsigned_codes, int bits);

/// Inverse of pack_rows: int32 words -> int32 codes [rows, cols].
at::Tensor unpack_rows(const at::Tensor& words, int bits, int64_t cols);

/// Signed codes of spec (int sym) -> unsigned storage values; identity for asym and nf4/fp4.
at::Tensor to_unsigned(const at::Tensor& codes, const QuantSpec& spec);
at::Tensor from_unsigned(const at::Tensor& stored, const QuantSpec& spec);

}  // namespace qtune
