#include "models/dataset.h"

#include <algorithm>

#include "common/error.h"

namespace qtune {

Dataset Dataset::slice(int64_t begin, int64_t count) const {
  QT_CHECK(begin >= 0 && begin <= size(), "dataset slice: begin must be in [0, ", size(), "], got ",
           begin);
  QT_CHECK(count >= 0, "dataset slice: count must be >= 0, got ", count);
  const int64_t end = std::min(size(), begin + count);
  return {inputs.slice(0, begin, end), labels.slice(0, begin, end)};
}

std::vector<at::Tensor> Dataset::input_batches(int64_t batch) const {
  QT_CHECK(batch > 0, "dataset batches: batch size must be > 0, got ", batch);
  std::vector<at::Tensor> out;
  for (int64_t begin = 0; begin < size(); begin += batch)
    out.push_back(inputs.slice(0, begin, std::min(size(), begin + batch)));
  return out;
}

std::vector<at::Tensor> Dataset::label_batches(int64_t batch) const {
  QT_CHECK(batch > 0, "dataset batches: batch size must be > 0, got ", batch);
  std::vector<at::Tensor> out;
  if (!labels.defined() || labels.numel() == 0) return out;
  for (int64_t begin = 0; begin < size(); begin += batch)
    out.push_back(labels.slice(0, begin, std::min(size(), begin + batch)));
  return out;
}

}  // namespace qtune
