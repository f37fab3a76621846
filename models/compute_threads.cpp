#include "models/compute_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>

namespace qtune {

void set_compute_threads(int n) {
  n = std::max(1, n);
  at::set_num_threads(n);
  // Looked up at run time: OpenBLAS is a dependency of LibTorch, not ours,
  // and another BLAS may be installed through the alternatives system.
  using SetFn = void (*)(int);
  static const auto openblas_set =
      reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas_set) openblas_set(n);
}

int compute_threads() { return at::get_num_threads(); }

ComputeThreadsScope::ComputeThreadsScope(int n) : previous_(compute_threads()) {
  set_compute_threads(n);
}

ComputeThreadsScope::~ComputeThreadsScope() { set_compute_threads(previous_); }

}  // namespace qtune
