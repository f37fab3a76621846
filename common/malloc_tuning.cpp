#include "common/malloc_tuning.h"

#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qtune {

void keep_freed_tensor_memory() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    // 32 MB is the largest threshold glibc accepts on 64-bit; a batch of 500
    // fmnist activations (conv1: 500x16x28x28 floats = 25 MB) stays below it.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    // Larger blocks (a 4096 x 4096 fp32 weight is 64 MB) would still be fresh
    // mmaps, each page faulted in again on every use: HQQ on such a layer
    // spent most of its 126 s in the kernel. With mmap off they come from the
    // heap too and are reused (glibc falls back to the main arena when a
    // thread arena cannot hold them).
    mallopt(M_MMAP_MAX, 0);
  });
#endif
}

void release_freed_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace qtune
