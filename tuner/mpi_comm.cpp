#include "tuner/mpi_comm.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "common/error.h"

namespace qtune {

void mpi_fail(const char* call, int code, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, text, &len);
  std::fprintf(stderr, "qtune: error: MPI call %s failed at %s:%d: %s\n", call, file, line, text);
  std::fflush(stderr);
  // Not MPI_Finalize: if only this rank failed, the others would hang.
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

bool launched_by_mpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

int launched_rank() {
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (!rank) rank = std::getenv("PMI_RANK");
  return rank ? std::atoi(rank) : 0;
}

void mpi_init_once() {
  int initialized = 0;
  MPI_SAFE_CALL(MPI_Initialized(&initialized));
  if (initialized) return;
  MPI_SAFE_CALL(MPI_Init(nullptr, nullptr));
  MPI_SAFE_CALL(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
}

void mpi_finalize_once() {
  int initialized = 0, finalized = 0;
  MPI_SAFE_CALL(MPI_Initialized(&initialized));
  MPI_SAFE_CALL(MPI_Finalized(&finalized));
  if (initialized && !finalized) MPI_SAFE_CALL(MPI_Finalize());
}

int mpi_rank() {
  int r = 0;
  MPI_SAFE_CALL(MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}

int mpi_size() {
  int s = 1;
  MPI_SAFE_CALL(MPI_Comm_size(MPI_COMM_WORLD, &s));
  return s;
}

void mpi_send_json(int dest, int tag, const Json& body) {
  const std::string text = body.dump();
  QT_ASSERT(text.size() < static_cast<size_t>(INT32_MAX), "MPI message too large");
  MPI_SAFE_CALL(
      MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD));
}

namespace {
// Open MPI's blocking calls spin a core at 100% while they wait. A waiting
// rank would then steal CPU from the ranks doing trials (or training the
// model) on the same node, so waits poll with a growing sleep: a few ms of
// message latency is nothing next to a trial.
class Backoff {
 public:
  void pause() {
    std::this_thread::sleep_for(std::chrono::microseconds(us_));
    us_ = std::min(us_ * 2, 20000);
  }

 private:
  int us_ = 50;
};
}  // namespace

void mpi_barrier() {
  MPI_Request req;
  MPI_SAFE_CALL(MPI_Ibarrier(MPI_COMM_WORLD, &req));
  mpi_wait_sleeping(req);
}

void mpi_wait_sleeping(MPI_Request& req) {
  Backoff backoff;
  int done = 0;
  while (true) {
    MPI_SAFE_CALL(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    backoff.pause();
  }
}

std::string mpi_bcast_string(const std::string& text, int root, MPI_Comm comm) {
  int64_t len = static_cast<int64_t>(text.size());
  MPI_Request req;
  MPI_SAFE_CALL(MPI_Ibcast(&len, 1, MPI_INT64_T, root, comm, &req));
  mpi_wait_sleeping(req);
  QT_ASSERT(len >= 0 && len < INT32_MAX, "broadcast string of ", len, " bytes");
  std::string out = text;
  out.resize(static_cast<size_t>(len));
  if (len == 0) return out;
  MPI_SAFE_CALL(MPI_Ibcast(out.data(), static_cast<int>(len), MPI_CHAR, root, comm, &req));
  mpi_wait_sleeping(req);
  return out;
}

std::string mpi_bcast_startup(const std::string& error) {
  return mpi_bcast_string(error, 0, MPI_COMM_WORLD);
}

MpiMessage mpi_recv_json(int source) {
  MPI_Status status;
  Backoff backoff;
  int flag = 0;
  while (true) {
    MPI_SAFE_CALL(MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status));
    if (flag) break;
    backoff.pause();
  }
  int count = 0;
  MPI_SAFE_CALL(MPI_Get_count(&status, MPI_CHAR, &count));
  std::vector<char> buf(static_cast<size_t>(count));
  MPI_SAFE_CALL(MPI_Recv(buf.data(), count, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG,
                         MPI_COMM_WORLD, MPI_STATUS_IGNORE));
  MpiMessage m;
  m.source = status.MPI_SOURCE;
  m.tag = status.MPI_TAG;
  const std::string text(buf.begin(), buf.end());
  m.body = text.empty() ? Json::object() : Json::parse(text);
  return m;
}

}  // namespace qtune
