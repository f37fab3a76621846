#include "models/idx_reader.h"

#include <cstring>

#include "common/error.h"
#include "models/idx_file.h"

namespace qtune {

at::Tensor read_idx_ubyte(const std::filesystem::path& path) {
  IdxArray a = read_idx_file(path);
  at::Tensor out = at::empty(a.dims, at::kByte);
  if (!a.data.empty()) std::memcpy(out.data_ptr<uint8_t>(), a.data.data(), a.data.size());
  return out;
}

at::Tensor read_idx_images(const std::filesystem::path& path, int64_t rows, int64_t cols) {
  at::Tensor t = read_idx_ubyte(path);
  QT_CHECK(t.dim() == 3 && t.size(1) == rows && t.size(2) == cols, "IDX file ", path.string(),
           ": expected images of shape [N, ", rows, ", ", cols, "], got ", t.sizes());
  return t;
}

at::Tensor read_idx_labels(const std::filesystem::path& path, int64_t num_classes) {
  at::Tensor t = read_idx_ubyte(path);
  QT_CHECK(t.dim() == 1, "IDX file ", path.string(), ": expected labels of shape [N], got ",
           t.sizes());
  if (t.numel() > 0) {
    const int64_t max_label = t.max().item<int64_t>();
    QT_CHECK(max_label < num_classes, "IDX file ", path.string(), ": label ", max_label,
             " out of range (expected < ", num_classes, ")");
  }
  return t.to(at::kLong);
}

}  // namespace qtune
