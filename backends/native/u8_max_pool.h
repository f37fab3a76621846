// Max-pooling of u8 activation codes in NHWC order, for the native int8
// chain (backends/int8_chain.h): quantizing is monotonic, so pooling codes is
// pooling values, exactly.
#pragma once

#include <cstdint>

namespace qtune::native {

/// out[n, oh, ow, c] = max over the k x k window at (oh * k, ow * k) of
/// in[n, h, w, c], for oh < h / k, ow < w / k (stride k, no padding, floor:
/// max_pool2d(window k, stride k)). Rows (n, oh) are split over the intra-op
/// threads by the caller's at::parallel_for; this computes rows [row0, row1).
void u8_max_pool_nhwc(const uint8_t* in, int64_t h, int64_t w, int64_t c, int64_t k, uint8_t* out,
                      int64_t row0, int64_t row1);

}  // namespace qtune::native
