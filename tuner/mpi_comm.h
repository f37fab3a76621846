// The MPI layer of the tuner: launch detection, init/finalize, and
// variable-size JSON messages over a fixed small set of tags.
//
// Every MPI call goes through MPI_SAFE_CALL (LightGBM's habit): a failing call
// prints where and aborts the whole job. Never MPI_Finalize from one failing
// rank: the others would wait in their next call forever.
#pragma once

#include <mpi.h>

#include <string>

#include "common/json.h"

namespace qtune {

/// Fixed tags; the trial id travels in the JSON payload, never in the tag
/// (MPI only guarantees tags up to 32767, INC's tag = index breaks past that).
enum MpiTag : int {
  kTagTask = 1,  ///< coordinator -> worker: {"trial": i, "config": {...}}
  kTagResult =
      2,  ///< worker -> coordinator: {"type": "ready"} or {"type": "result", "result": {...}}
  kTagStop = 3,  ///< coordinator -> worker: no more work, leave the loop
};

[[noreturn]] void mpi_fail(const char* call, int code, const char* file, int line);

#define MPI_SAFE_CALL(call)                                                                        \
  do {                                                                                             \
    const int qtune_mpi_rc_ = (call);                                                              \
    if (qtune_mpi_rc_ != MPI_SUCCESS) ::qtune::mpi_fail(#call, qtune_mpi_rc_, __FILE__, __LINE__); \
  } while (0)

/// True when this process was started by mpirun (Open MPI's OMPI_COMM_WORLD_SIZE,
/// or PMI_SIZE from Hydra-style launchers). Only then is MPI_Init called, so the
/// plain binary never depends on singleton init.
bool launched_by_mpi();

/// This process's rank in the job that mpirun launched, read from the
/// launcher's environment before MPI_Init; 0 when not launched by mpirun.
int launched_rank();

/// Initializes MPI once per process (no-op when already initialized) and
/// makes errors return to MPI_SAFE_CALL instead of aborting silently.
void mpi_init_once();
/// Finalizes when initialized and not yet finalized. Call on the success path only.
void mpi_finalize_once();
int mpi_rank();
int mpi_size();

struct MpiMessage {
  int source = -1;
  int tag = -1;
  Json body;
};

void mpi_send_json(int dest, int tag, const Json& body);
/// MPI_Barrier on MPI_COMM_WORLD that sleeps while it waits instead of spinning.
void mpi_barrier();

/// MPI_Wait that sleeps while it waits instead of spinning.
void mpi_wait_sleeping(MPI_Request& req);

/// MPI_Bcast of a string from `root` over `comm` (its length first), sleeping
/// while it waits. Every rank of `comm` calls it; non-roots pass anything.
std::string mpi_bcast_string(const std::string& text, int root, MPI_Comm comm);

/// Rank 0 tells every rank whether start-up went well: an empty `error` means
/// yes. Every rank calls it (like MPI_Bcast, sleeping while it waits) and gets
/// rank 0's message. Lets an expected start-up error (bad --resume, missing
/// model) end every rank cleanly instead of through MPI_Abort.
std::string mpi_bcast_startup(const std::string& error);

/// Blocks (sleeping, not spinning) for the next message from `source` (MPI_ANY_SOURCE allowed), any
/// tag; sized with MPI_Iprobe + MPI_Get_count.
MpiMessage mpi_recv_json(int source);

}  // namespace qtune
