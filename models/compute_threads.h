// Intra-op thread control: how many threads one ATen operation (and one
// OpenBLAS call) may use.
#pragma once

namespace qtune {

/// Sets ATen's intra-op threads, and OpenBLAS's own pool when it is loaded
/// (LibTorch's set_num_threads does not reach OpenBLAS's pthreads build).
void set_compute_threads(int n);
int compute_threads();

/// Sets the thread count for a scope and restores the previous one.
class ComputeThreadsScope {
 public:
  explicit ComputeThreadsScope(int n);
  ~ComputeThreadsScope();
  ComputeThreadsScope(const ComputeThreadsScope&) = delete;
  ComputeThreadsScope& operator=(const ComputeThreadsScope&) = delete;

 private:
  int previous_;
};

}  // namespace qtune
