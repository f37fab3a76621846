// Runs without a shared filesystem: rank 0 reads the run's input files
// (tuner/input_files.h) and sends them once per node, over MPI, to one
// receiver per node (the lowest rank of MPI_Comm_split_type's shared-memory
// group), which writes them to a node-local folder in shared memory
// (/dev/shm, else the temp folder); the node's ranks read them from there,
// so a node holds one copy and workers need neither the model cache nor the
// data files on their own disks. Ranks on rank 0's node read rank 0's files.
//
// QTUNE_NODE_PER_RANK=1 makes each rank a node of its own: how the tests run
// the multi-node path on one machine.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "tuner/input_files.h"

namespace qtune {

/// What the broadcast moved, for the run's --json summary.
struct BroadcastStats {
  int nodes = 1;        ///< nodes in the job
  int64_t files = 0;    ///< files sent to each other node
  int64_t bytes = 0;    ///< bytes sent to each other node
  double seconds = 0;   ///< rank 0's wall time from the manifest to the last chunk
  std::string skipped;  ///< why rank 0 sent nothing (its inputs were unreadable), or empty
};

/// Chunks of at most this many bytes: far under MPI's int count limit (2 GiB).
constexpr int64_t kBroadcastChunkBytes = int64_t{64} << 20;

class InputBroadcast {
 public:
  /// Collective over MPI_COMM_WORLD (MPI initialized). Rank 0 passes the
  /// inputs it runs; every other rank its own reading of the same config.
  /// Waits sleep rather than spin, so workers may arrive long before rank 0
  /// (which trains a built-in model first). When rank 0 cannot list its
  /// inputs (a missing model), it sends none and every rank keeps its own
  /// paths: the load then fails on rank 0 with the real error. A receiver
  /// that cannot write its folder says so on stderr and its node reads its
  /// own disks.
  explicit InputBroadcast(const RunInputs& inputs);
  ~InputBroadcast();
  InputBroadcast(const InputBroadcast&) = delete;
  InputBroadcast& operator=(const InputBroadcast&) = delete;

  /// What this rank runs: `inputs` relocated under the node's folder on a
  /// node that received them, else `inputs` unchanged.
  const RunInputs& inputs() const { return inputs_; }
  const BroadcastStats& stats() const { return stats_; }
  /// The node-local folder this rank reads from; empty on rank 0's node.
  const std::filesystem::path& node_folder() const { return folder_; }

  /// Collective over this node's ranks, after the run: once all of them are
  /// done, the receiver removes the folder.
  void release();

 private:
  RunInputs inputs_;
  BroadcastStats stats_;
  std::filesystem::path folder_;
  MPI_Comm node_ = MPI_COMM_NULL;
  bool receiver_ = false;
  bool released_ = false;
};

/// True when QTUNE_NODE_PER_RANK asks for one node per rank ("1"); anything
/// else but unset or "0" -> qtune::Error naming the variable.
bool node_per_rank_from_env();

}  // namespace qtune
