#include "models/fmnist/fmnist_data.h"

#include <cstdlib>

#include "common/error.h"
#include "models/idx_reader.h"

namespace qtune {

std::filesystem::path fmnist_data_dir() {
  if (const char* dir = std::getenv("QTUNE_FMNIST_DIR"); dir && *dir) return dir;
  return "/usr/share/datasets/fashion-mnist";
}

at::Tensor normalise_fmnist(const at::Tensor& images_u8) {
  return images_u8.to(at::kFloat).div_(255.0f).sub_(kFmnistMean).div_(kFmnistStd).unsqueeze(1);
}

Dataset load_fmnist_split_raw(const std::string& split) {
  QT_ASSERT(split == "train" || split == "t10k", split);
  const std::filesystem::path dir = fmnist_data_dir();
  const auto images_path = dir / (split + "-images-idx3-ubyte.gz");
  const auto labels_path = dir / (split + "-labels-idx1-ubyte.gz");
  QT_CHECK(
      std::filesystem::exists(images_path), "Fashion-MNIST file ", images_path.string(),
      " does not exist (set QTUNE_FMNIST_DIR to the folder holding the four *-ubyte.gz files)");
  const at::Tensor images = read_idx_images(images_path, 28, 28);
  const at::Tensor labels = read_idx_labels(labels_path, 10);
  QT_CHECK(images.size(0) == labels.size(0), "Fashion-MNIST ", split, ": ", images_path.string(),
           " holds ", images.size(0), " images but ", labels_path.string(), " holds ",
           labels.size(0), " labels");
  return {images, labels};
}

Dataset load_fmnist_split(const std::string& split) {
  Dataset d = load_fmnist_split_raw(split);
  d.inputs = normalise_fmnist(d.inputs);
  return d;
}

}  // namespace qtune
