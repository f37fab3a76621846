// Intra-op thread control for trials.
//
// A trial's accuracy must not depend on which rank ran it or how many ranks
// there are: floating-point reductions split across threads round differently.
// So quantizing and evaluating run on one thread everywhere, and only latency
// is measured with the rank's share of the node's cores.
#pragma once

namespace qtune {

/// hardware_concurrency / OMPI_COMM_WORLD_LOCAL_SIZE (ranks on this node), at least 1.
int rank_thread_share();
int cores_on_this_node();  ///< hardware_concurrency, at least 1
int ranks_on_this_node();  ///< OMPI_COMM_WORLD_LOCAL_SIZE (or MPI_LOCALNRANKS), else 1

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
