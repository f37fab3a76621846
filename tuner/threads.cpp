#include "tuner/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace qtune {

int cores_on_this_node() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int ranks_on_this_node() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  return 1;
}

int rank_thread_share() { return std::max(1, cores_on_this_node() / ranks_on_this_node()); }

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
