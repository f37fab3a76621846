// NumPy .npy arrays as a classifier's images and labels (models/npy_file.h
// parses them). Private to models/.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>

namespace qtune {

/// Images [N, rows, cols] or [N, 1, rows, cols]: uint8 pixels -> uint8
/// [N, rows, cols] (scaled later, as IDX pixels are); float32 or float64
/// -> float32 [N, rows, cols], taken as already scaled. Other types or
/// shapes -> qtune::Error naming the file.
at::Tensor read_npy_images(const std::filesystem::path& path, int64_t rows, int64_t cols);

/// Labels [N] of any integer type -> int64 [N]; each in [0, num_classes).
at::Tensor read_npy_labels(const std::filesystem::path& path, int64_t num_classes);

}  // namespace qtune
