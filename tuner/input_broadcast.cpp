#include "tuner/input_broadcast.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "common/first_line.h"
#include "common/json.h"
#include "tuner/mpi_comm.h"
#include "tuner/trial.h"

namespace qtune {

namespace fs = std::filesystem;

namespace {

// Node-local shared memory where there is some, so the node's copy lives in RAM once.
fs::path receive_base() {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

// Rank 0's side of the file stream; receivers pass `folder`. Every leader
// steps through the same chunks, so a read or write error on one of them
// never leaves another waiting: the bytes still flow and the error is
// reported once the stream ends.
std::string stream_files(const std::vector<InputFile>& files, const Json& manifest,
                         MPI_Comm leaders, bool sender, const fs::path& folder) {
  std::string error;
  int64_t largest = 0;
  for (const Json& f : manifest["files"]) largest = std::max(largest, f["bytes"].get<int64_t>());
  std::vector<char> buf(static_cast<size_t>(std::min(largest, kBroadcastChunkBytes)));
  size_t index = 0;
  for (const Json& f : manifest["files"]) {
    const std::string name = f["name"].get<std::string>();
    const int64_t bytes = f["bytes"].get<int64_t>();
    std::ifstream in;
    std::ofstream out;
    if (sender) {
      in.open(files[index].source, std::ios::binary);
      if (!in && error.empty()) error = files[index].source.string() + ": cannot read";
    } else if (error.empty()) {
      std::error_code ec;
      fs::create_directories((folder / name).parent_path(), ec);
      out.open(folder / name, std::ios::binary | std::ios::trunc);
      if (!out) error = (folder / name).string() + ": cannot write";
    }
    for (int64_t done = 0; done < bytes;) {
      const int64_t n = std::min(kBroadcastChunkBytes, bytes - done);
      if (sender) {
        if (!in.read(buf.data(), n)) {
          if (error.empty()) error = files[index].source.string() + ": changed while it was sent";
          std::fill(buf.begin(), buf.begin() + n, 0);
          in.clear();
        }
      }
      MPI_Request req;
      MPI_SAFE_CALL(MPI_Ibcast(buf.data(), static_cast<int>(n), MPI_BYTE, 0, leaders, &req));
      mpi_wait_sleeping(req);
      if (!sender && error.empty() && !out.write(buf.data(), n))
        error = (folder / name).string() + ": write failed (disk full?)";
      done += n;
    }
    if (!sender && error.empty() && !(out.flush()))
      error = (folder / name).string() + ": write failed (disk full?)";
    ++index;
  }
  return error;
}

}  // namespace

bool node_per_rank_from_env() {
  const char* v = std::getenv("QTUNE_NODE_PER_RANK");
  if (!v || !*v || std::strcmp(v, "0") == 0) return false;
  QT_CHECK(std::strcmp(v, "1") == 0, "QTUNE_NODE_PER_RANK: expected 0 or 1, got '", v, "'");
  return true;
}

InputBroadcast::InputBroadcast(const RunInputs& inputs) : inputs_(inputs) {
  const int rank = mpi_rank();
  const bool per_rank = node_per_rank_from_env();
  const auto start = std::chrono::steady_clock::now();

  // The manifest first, over every rank, asleep: rank 0 may be training the model.
  std::vector<InputFile> files;
  Json manifest = Json::object();
  if (rank == 0) {
    manifest["files"] = Json::array();
    try {
      files = run_input_files(inputs);
      for (const InputFile& f : files)
        manifest["files"].push_back(
            {{"name", f.relative}, {"bytes", static_cast<int64_t>(fs::file_size(f.source))}});
    } catch (const std::exception& e) {
      files.clear();
      manifest["files"] = Json::array();
      manifest["skipped"] = first_line(e.what());
    }
    manifest["job"] = host_name() + "-" + std::to_string(::getpid());
  }
  manifest = Json::parse(mpi_bcast_string(manifest.dump(), 0, MPI_COMM_WORLD));
  stats_.skipped = manifest.value("skipped", std::string());

  // Nodes: ranks that share memory (or one per rank for the tests). The key
  // keeps world order, so rank 0 leads its node and the leaders' group.
  if (per_rank)
    MPI_SAFE_CALL(MPI_Comm_split(MPI_COMM_WORLD, rank, 0, &node_));
  else
    MPI_SAFE_CALL(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node_));
  int node_rank = 0, lowest = 0;
  MPI_SAFE_CALL(MPI_Comm_rank(node_, &node_rank));
  MPI_Request req;
  MPI_SAFE_CALL(MPI_Iallreduce(&rank, &lowest, 1, MPI_INT, MPI_MIN, node_, &req));
  mpi_wait_sleeping(req);
  receiver_ = node_rank == 0 && lowest != 0;

  MPI_Comm leaders = MPI_COMM_NULL;
  MPI_SAFE_CALL(MPI_Comm_split(MPI_COMM_WORLD, node_rank == 0 ? 0 : MPI_UNDEFINED, rank, &leaders));
  std::string folder;
  if (leaders != MPI_COMM_NULL) {
    MPI_SAFE_CALL(MPI_Comm_size(leaders, &stats_.nodes));
    if (stats_.nodes > 1 && !manifest["files"].empty()) {
      fs::path dest;
      std::string error;
      if (receiver_) {
        dest = receive_base() / ("qtune-inputs-" + manifest["job"].get<std::string>() + "-rank" +
                                 std::to_string(rank));
        std::error_code ec;
        fs::remove_all(dest, ec);
        if (!fs::create_directories(dest, ec))
          error = dest.string() + ": cannot create the folder: " + ec.message();
      }
      const std::string stream_error = stream_files(files, manifest, leaders, rank == 0, dest);
      if (error.empty()) error = stream_error;
      // A sender's error spoils every copy.
      const std::string sent = mpi_bcast_string(rank == 0 ? stream_error : "", 0, leaders);
      if (error.empty() && !sent.empty()) error = "rank 0: " + sent;
      if (receiver_) {
        if (error.empty()) {
          folder = dest.string();
        } else {
          std::fprintf(stderr,
                       "qtune: rank %d: the model and data files from rank 0 were not stored "
                       "(%s); this node reads its own\n",
                       rank, error.c_str());
          std::error_code ec;
          fs::remove_all(dest, ec);
        }
      }
      if (rank == 0) {
        for (const Json& f : manifest["files"]) stats_.bytes += f["bytes"].get<int64_t>();
        stats_.files = static_cast<int64_t>(manifest["files"].size());
      }
    }
    MPI_SAFE_CALL(MPI_Comm_free(&leaders));
  }
  folder_ = mpi_bcast_string(folder, 0, node_);
  if (!folder_.empty()) inputs_ = relocate_run_inputs(inputs, folder_);
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void InputBroadcast::release() {
  if (released_ || node_ == MPI_COMM_NULL) return;
  released_ = true;
  MPI_Request req;
  MPI_SAFE_CALL(MPI_Ibarrier(node_, &req));
  mpi_wait_sleeping(req);
  MPI_SAFE_CALL(MPI_Comm_free(&node_));
  if (receiver_ && !folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
}

InputBroadcast::~InputBroadcast() {
  // An error ended the run before release(): the communicator goes with the
  // process, the node's copy must not stay in shared memory.
  if (!released_ && receiver_ && !folder_.empty()) {
    std::error_code ec;
    fs::remove_all(folder_, ec);
  }
}

}  // namespace qtune
