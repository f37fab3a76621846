#include "models/npy_reader.h"

#include <cstring>
#include <string>

#include "common/error.h"
#include "models/npy_file.h"

namespace qtune {

namespace {

at::ScalarType scalar_type(const std::string& dtype) {
  if (dtype == "u1") return at::kByte;
  if (dtype == "i1") return at::kChar;
  if (dtype == "i2") return at::kShort;
  if (dtype == "i4") return at::kInt;
  if (dtype == "i8") return at::kLong;
  if (dtype == "f4") return at::kFloat;
  if (dtype == "f8") return at::kDouble;
  return at::kLong;  // u2, u4, u8: widened by tensor_of
}

// The array as a tensor of its own type; unsigned types wider than a byte
// (which ATen lacks) become int64 (u8 values past 2^63 become negative and
// fail a label's range check).
at::Tensor tensor_of(const NpyArray& a) {
  std::vector<int64_t> dims(a.dims.begin(), a.dims.end());
  if (a.dtype == "u2" || a.dtype == "u4" || a.dtype == "u8") {
    at::Tensor out = at::empty(dims, at::kLong);
    int64_t* dst = out.data_ptr<int64_t>();
    const size_t n = a.data.size() / static_cast<size_t>(a.itemsize);
    for (size_t i = 0; i < n; ++i) {
      uint64_t v = 0;
      for (int k = a.itemsize - 1; k >= 0; --k) v = v << 8 | a.data[i * a.itemsize + k];
      dst[i] = static_cast<int64_t>(v);
    }
    return out;
  }
  at::Tensor out = at::empty(dims, scalar_type(a.dtype));
  if (!a.data.empty()) std::memcpy(out.data_ptr(), a.data.data(), a.data.size());
  return out;
}

}  // namespace

at::Tensor read_npy_images(const std::filesystem::path& path, int64_t rows, int64_t cols) {
  const NpyArray a = read_npy_file(path);
  at::Tensor t = tensor_of(a);
  if (t.dim() == 4 && t.size(1) == 1) t = t.squeeze(1);
  QT_CHECK(a.dtype == "u1" || a.dtype == "f4" || a.dtype == "f8", path.string(),
           ": expected uint8 pixels (0-255) or float32/float64 ones (already scaled), got dtype ",
           a.dtype);
  QT_CHECK(t.dim() == 3 && t.size(1) == rows && t.size(2) == cols, path.string(),
           ": expected images of shape [N, ", rows, ", ", cols, "] or [N, 1, ", rows, ", ", cols,
           "], got ", at::IntArrayRef(a.dims));
  return a.dtype == "u1" ? t.contiguous() : t.to(at::kFloat).contiguous();
}

at::Tensor read_npy_labels(const std::filesystem::path& path, int64_t num_classes) {
  const NpyArray a = read_npy_file(path);
  QT_CHECK(a.dtype[0] == 'i' || a.dtype[0] == 'u', path.string(),
           ": expected integer labels, got dtype ", a.dtype);
  QT_CHECK(a.dims.size() == 1, path.string(), ": expected labels of shape [N], got ",
           at::IntArrayRef(a.dims));
  const at::Tensor t = tensor_of(a).to(at::kLong);
  if (t.numel() > 0) {
    const int64_t lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
    QT_CHECK(lo >= 0 && hi < num_classes, path.string(), ": label ", lo < 0 ? lo : hi,
             " out of range (expected 0 to ", num_classes - 1, ")");
  }
  return t;
}

}  // namespace qtune
