// A classifier's images and labels from the user's files: IDX (gzip'd or
// plain) or NumPy .npy. Private to models/.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "models/data_options.h"
#include "models/dataset.h"

namespace qtune {

/// Images [N, rows, cols] and labels [N] (each < num_classes) as stored, from
/// files in `format` ("idx": uint8 arrays; "npy": models/npy_reader.h); a
/// count mismatch -> qtune::Error naming both files.
Dataset read_image_dataset_raw(const std::string& images, const std::string& labels,
                               const std::string& format, int64_t rows, int64_t cols,
                               int64_t num_classes);

/// [N, H, W] -> float32 [N, 1, H, W]: uint8 pixels x / 255 (float ones as they
/// are), then (x - mean) / std when o.normalize.
at::Tensor scale_images(const at::Tensor& images, const ImageDataOptions& o);

}  // namespace qtune
