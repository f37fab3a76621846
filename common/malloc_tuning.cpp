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
  });
#endif
}

}  // namespace qtune
