// A classifier's images and labels from the user's IDX files. Private to models/.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "models/data_options.h"
#include "models/dataset.h"

namespace qtune {

/// Images (IDX uint8 [N, rows, cols]) and labels (IDX uint8 [N], each <
/// num_classes) as stored; a count mismatch -> qtune::Error naming both files.
Dataset read_idx_dataset_raw(const std::string& images, const std::string& labels, int64_t rows,
                             int64_t cols, int64_t num_classes);

/// uint8 [N, H, W] -> float32 [N, 1, H, W]: x / 255, then (x - mean) / std when o.normalize.
at::Tensor scale_images(const at::Tensor& images_u8, const ImageDataOptions& o);

}  // namespace qtune
