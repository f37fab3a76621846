#include "models/idx_dataset.h"

#include "common/error.h"
#include "models/idx_reader.h"

namespace qtune {

Dataset read_idx_dataset_raw(const std::string& images, const std::string& labels, int64_t rows,
                             int64_t cols, int64_t num_classes) {
  Dataset d;
  d.inputs = read_idx_images(images, rows, cols);
  d.labels = read_idx_labels(labels, num_classes);
  QT_CHECK(d.labels.size(0) == d.inputs.size(0), labels, ": ", d.labels.size(0), " labels for ",
           d.inputs.size(0), " images in ", images);
  QT_CHECK(d.inputs.size(0) > 0, images, ": no image");
  return d;
}

at::Tensor scale_images(const at::Tensor& images_u8, const ImageDataOptions& o) {
  // The operations and their float order are normalise_fmnist's, so the
  // built-in mean and std give the built-in inputs bit for bit.
  at::Tensor x = images_u8.to(at::kFloat).div_(255.0f);
  if (o.normalize) x.sub_(static_cast<float>(o.mean)).div_(static_cast<float>(o.std));
  return x.unsqueeze(1);
}

}  // namespace qtune
