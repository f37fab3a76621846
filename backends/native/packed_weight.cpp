#include "backends/native/packed_weight.h"

#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace qtune::native {

int64_t bytes_per_block(CodeFormat f) {
  switch (f) {
    case CodeFormat::kU4:
    case CodeFormat::kTable4:
      return kBlock / 2;
    case CodeFormat::kS8:
      return kBlock;
  }
  QT_ASSERT(false, "unknown CodeFormat ", static_cast<int>(f));
  return 0;
}

void AlignedBytes::Free::operator()(uint8_t* p) const { std::free(p); }

AlignedBytes AlignedBytes::zeros(int64_t size) {
  QT_ASSERT(size >= 0);
  // aligned_alloc wants a multiple of the alignment; the tail is never read.
  const size_t rounded = static_cast<size_t>((size + 63) / 64 * 64);
  AlignedBytes b;
  if (rounded > 0) {
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
    QT_CHECK(p != nullptr, "native kernels: cannot allocate ", rounded, " bytes");
    std::memset(p, 0, rounded);
    b.data.reset(p);
  }
  b.size = size;
  return b;
}

int64_t PackedWeight::stream_bytes() const {
  const int64_t per_block = bytes_per_block(format) + 2 + (has_zero ? 1 : 0) + (has_min ? 2 : 0);
  return rows * blocks * per_block;
}

}  // namespace qtune::native
