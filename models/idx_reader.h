// Reader for IDX files (the MNIST / Fashion-MNIST format), gzip'd or plain.
// Private to models/.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>

namespace qtune {

/// An unsigned-byte IDX array: the tensor is uint8 with the file's dimensions.
/// Validates the magic (0x00 0x00 0x08 ndim), 1 <= ndim <= 4, the declared
/// size against the data and that nothing follows it; any problem, including
/// a truncated or corrupt gzip stream, is a qtune::Error naming the file.
at::Tensor read_idx_ubyte(const std::filesystem::path& path);

/// IDX images [N, rows, cols] -> uint8 [N, rows, cols]; rows/cols must match.
at::Tensor read_idx_images(const std::filesystem::path& path, int64_t rows, int64_t cols);
/// IDX labels [N] -> int64 [N]; every label must be < num_classes.
at::Tensor read_idx_labels(const std::filesystem::path& path, int64_t num_classes);

}  // namespace qtune
