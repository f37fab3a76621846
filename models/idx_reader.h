// Reader for IDX files (the MNIST / Fashion-MNIST format), gzip'd or plain.
// Private to models/.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>

namespace qtune {

/// An unsigned-byte IDX array (models/idx_file.h: read_idx_file and its
/// checks) as a uint8 tensor with the file's dimensions.
at::Tensor read_idx_ubyte(const std::filesystem::path& path);

/// IDX images [N, rows, cols] -> uint8 [N, rows, cols]; rows/cols must match.
at::Tensor read_idx_images(const std::filesystem::path& path, int64_t rows, int64_t cols);
/// IDX labels [N] -> int64 [N]; every label must be < num_classes.
at::Tensor read_idx_labels(const std::filesystem::path& path, int64_t num_classes);

}  // namespace qtune
