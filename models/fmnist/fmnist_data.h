// Fashion-MNIST on disk. Private to models/.
#pragma once

#include <filesystem>

#include "models/dataset.h"

namespace qtune {

/// $QTUNE_FMNIST_DIR if set, else /usr/share/datasets/fashion-mnist.
std::filesystem::path fmnist_data_dir();

/// Per-pixel normalisation of the training split (mean, std of x/255).
constexpr float kFmnistMean = 0.2860f;
constexpr float kFmnistStd = 0.3530f;

/// uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], (x/255 - mean)/std.
at::Tensor normalise_fmnist(const at::Tensor& images_u8);

/// One split ("train" or "t10k") as stored: images uint8 [N, 28, 28], labels int64 [N].
/// Missing or corrupt files are a qtune::Error naming the file.
Dataset load_fmnist_split_raw(const std::string& split);

/// One split, normalised (inputs float32 [N, 1, 28, 28]).
Dataset load_fmnist_split(const std::string& split);

}  // namespace qtune
