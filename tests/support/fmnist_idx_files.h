// Plain (not gzip'd) IDX files, or .npy files, holding the first images and
// labels of the Fashion-MNIST test split: user data whose right answer is the
// built-in set.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "models/fmnist/fmnist_data.h"
#include "tests/support/npy_bytes.h"
#include "tests/support/temp_dir.h"

namespace qtune::testing {

/// `v` as 4 big-endian bytes (IDX header fields).
inline std::string idx_be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

/// The first `n` test images and the first `n_labels` labels (a count unlike
/// `n` makes a mismatched pair).
inline void write_fmnist_idx(const std::filesystem::path& images,
                             const std::filesystem::path& labels, int64_t n, int64_t n_labels) {
  const Dataset test = load_fmnist_split_raw("t10k");
  const at::Tensor px = test.inputs.slice(0, 0, n).contiguous();
  write_bytes(images, std::string("\0\0\x08\x03", 4) + idx_be32(n) + idx_be32(28) + idx_be32(28) +
                          std::string(reinterpret_cast<const char*>(px.data_ptr<uint8_t>()),
                                      static_cast<size_t>(n * 28 * 28)));
  std::string lab;
  for (int64_t i = 0; i < n_labels; ++i) lab += static_cast<char>(test.labels[i].item<int64_t>());
  write_bytes(labels, std::string("\0\0\x08\x01", 4) + idx_be32(n_labels) + lab);
}

/// The first `n` test images as .npy ([N, 28, 28] uint8, or with
/// `float_pixels` float32 [N, 1, 28, 28] holding x / 255 as qtune scales
/// uint8 pixels) and their labels as int64 [N].
inline void write_fmnist_npy(const std::filesystem::path& images,
                             const std::filesystem::path& labels, int64_t n, bool float_pixels) {
  const Dataset test = load_fmnist_split_raw("t10k");
  const std::string shape = std::to_string(n) + (float_pixels ? ", 1, 28, 28" : ", 28, 28");
  at::Tensor px = test.inputs.slice(0, 0, n).contiguous();
  if (float_pixels) px = px.to(at::kFloat).div_(255.0f).contiguous();
  write_bytes(images, npy_bytes("{'descr': '" + std::string(float_pixels ? "<f4" : "|u1") +
                                    "', 'fortran_order': False, 'shape': (" + shape + "), }",
                                std::string(static_cast<const char*>(px.data_ptr()),
                                            static_cast<size_t>(px.nbytes()))));
  const at::Tensor lab = test.labels.slice(0, 0, n).to(at::kLong).contiguous();
  write_bytes(labels, npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (" +
                                    std::to_string(n) + ",), }",
                                std::string(static_cast<const char*>(lab.data_ptr()),
                                            static_cast<size_t>(lab.nbytes()))));
}

}  // namespace qtune::testing
