// Process-wide glibc malloc settings for tensor workloads: the CLI calls it at
// start-up, load_model/build_model on first use (for library users).
#pragma once

namespace qtune {

/// By default glibc serves every block above its (adaptive, <= 32 MB) mmap
/// threshold with a fresh mmap and trims the heap top on free, so each
/// forward pass re-faults its activation buffers from the kernel. Measured on
/// builtin:fmnist-cnn-tiny: 100 training steps 44 s -> 4 s, a 10k-image
/// evaluation 16 s -> 1.6 s. Idempotent; a no-op off glibc.
void keep_freed_tensor_memory();

/// Returns the free memory inside the heaps to the kernel (malloc_trim): with
/// the settings above, a long job whose buffers outlive each other in a
/// changing order keeps every freed hole resident. Called between the
/// blocks of a block-wise algorithm, where the next block reuses little.
void release_freed_memory();

}  // namespace qtune
