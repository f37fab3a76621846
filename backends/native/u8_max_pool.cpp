#include "backends/native/u8_max_pool.h"

#include <algorithm>
#include <cstring>

namespace qtune::native {

void u8_max_pool_nhwc(const uint8_t* in, int64_t h, int64_t w, int64_t c, int64_t k, uint8_t* out,
                      int64_t row0, int64_t row1) {
  const int64_t oh = h / k, ow = w / k;
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t n = row / oh, y = row % oh;
    for (int64_t x = 0; x < ow; ++x) {
      uint8_t* dst = out + ((n * oh + y) * ow + x) * c;
      std::memcpy(dst, in + ((n * h + y * k) * w + x * k) * c, static_cast<size_t>(c));
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = (i == 0 ? 1 : 0); j < k; ++j) {
          const uint8_t* src = in + ((n * h + y * k + i) * w + x * k + j) * c;
          for (int64_t ch = 0; ch < c; ++ch) dst[ch] = std::max(dst[ch], src[ch]);
        }
    }
  }
}

}  // namespace qtune::native
