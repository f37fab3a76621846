#include "tuner/threads.h"

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

}  // namespace qtune
