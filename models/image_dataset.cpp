#include "models/image_dataset.h"

#include "common/error.h"
#include "models/idx_reader.h"
#include "models/npy_reader.h"

namespace qtune {

Dataset read_image_dataset_raw(const std::string& images, const std::string& labels,
                               const std::string& format, int64_t rows, int64_t cols,
                               int64_t num_classes) {
  QT_ASSERT(format == "idx" || format == "npy", "image file format ", format);
  Dataset d;
  if (format == "npy") {
    d.inputs = read_npy_images(images, rows, cols);
    d.labels = read_npy_labels(labels, num_classes);
  } else {
    d.inputs = read_idx_images(images, rows, cols);
    d.labels = read_idx_labels(labels, num_classes);
  }
  QT_CHECK(d.labels.size(0) == d.inputs.size(0), labels, ": ", d.labels.size(0), " labels for ",
           d.inputs.size(0), " images in ", images);
  QT_CHECK(d.inputs.size(0) > 0, images, ": no image");
  return d;
}

at::Tensor scale_images(const at::Tensor& images, const ImageDataOptions& o) {
  // The operations and their float order are normalise_fmnist's, so the
  // built-in mean and std give the built-in inputs bit for bit.
  at::Tensor x = images.scalar_type() == at::kByte ? images.to(at::kFloat).div_(255.0f)
                                                   : images.to(at::kFloat);
  if (o.normalize) x.sub_(static_cast<float>(o.mean)).div_(static_cast<float>(o.std));
  return x.unsqueeze(1);
}

}  // namespace qtune
