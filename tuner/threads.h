// Intra-op thread control for trials.
//
// A trial's accuracy must not depend on which rank ran it or how many ranks
// there are: floating-point reductions split across threads round differently.
// So each work unit of quantizing and evaluating runs on one compute thread
// (models/work_units.h), units in parallel on the rank's share of the node's
// cores; latency is measured with that share as intra-op threads.
#pragma once

namespace qtune {

/// hardware_concurrency / OMPI_COMM_WORLD_LOCAL_SIZE (ranks on this node), at least 1.
int rank_thread_share();
int cores_on_this_node();  ///< hardware_concurrency, at least 1
int ranks_on_this_node();  ///< OMPI_COMM_WORLD_LOCAL_SIZE (or MPI_LOCALNRANKS), else 1

}  // namespace qtune
