// A command started in the background (so that a test can kill it, or one of
// its processes, while it runs) and the /proc look-ups that find those
// processes: mpirun's ranks, and whatever still runs for a given directory.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace qtune::testing {

/// `command` run by /bin/sh with `exec`, so that pid() is the command's own
/// process (qtune, or mpirun), stdout and stderr to files.
class BackgroundCommand {
 public:
  BackgroundCommand(const std::string& command, const std::filesystem::path& out,
                    const std::filesystem::path& err) {
    const std::string full =
        "exec " + command + " >" + out.string() + " 2>" + err.string() + " </dev/null";
    const char* argv[] = {"/bin/sh", "-c", full.c_str(), nullptr};
    if (posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
      pid_ = -1;
  }
  ~BackgroundCommand() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  pid_t pid() const { return pid_; }

  /// The exit status (128 + signal when killed) once it ended; empty while it runs.
  std::optional<int> poll() {
    if (!status_ && pid_ > 0) {
      int raw = 0;
      if (::waitpid(pid_, &raw, WNOHANG) == pid_) status_ = decode(raw);
    }
    return status_;
  }

  int wait() {
    if (!status_ && pid_ > 0) {
      int raw = 0;
      while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
      }
      status_ = decode(raw);
    }
    return status_.value_or(-1);
  }

 private:
  static int decode(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw); }

  pid_t pid_ = -1;
  std::optional<int> status_;
};

inline std::string read_proc_file(pid_t pid, const char* name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Every live process (zombies left out: they run nothing).
inline std::vector<pid_t> live_pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    const std::string stat = read_proc_file(pid, "stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || stat.size() < paren + 3 || stat[paren + 2] == 'Z') continue;
    out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

inline pid_t parent_of(pid_t pid) {
  const std::string stat = read_proc_file(pid, "stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  // After the command name: " S PPID ..."
  return static_cast<pid_t>(std::atoi(stat.c_str() + paren + 4));
}

/// The value of variable `name` in the process's initial environment, or empty.
inline std::string environment_of(pid_t pid, const std::string& name) {
  const std::string env = read_proc_file(pid, "environ");
  const std::string key = name + "=";
  for (size_t at = 0; at < env.size();) {
    const size_t end = env.find('\0', at);
    const std::string entry = env.substr(at, end == std::string::npos ? end : end - at);
    if (entry.rfind(key, 0) == 0) return entry.substr(key.size());
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return {};
}

/// The process of MPI rank `rank` that `mpirun` started (its child; a
/// rank's own children, such as isolated trials, carry the same variable).
inline std::optional<pid_t> mpi_rank_pid(pid_t mpirun, int rank) {
  for (pid_t pid : live_pids())
    if (parent_of(pid) == mpirun &&
        environment_of(pid, "OMPI_COMM_WORLD_RANK") == std::to_string(rank))
      return pid;
  return std::nullopt;
}

/// Live processes whose command line mentions `text` (a run's output
/// directory: its ranks, and their forked trials, which share the command line).
inline std::vector<pid_t> pids_mentioning(const std::string& text) {
  std::vector<pid_t> out;
  for (pid_t pid : live_pids()) {
    if (pid == ::getpid()) continue;
    std::string cmdline = read_proc_file(pid, "cmdline");
    for (char& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.find(text) != std::string::npos) out.push_back(pid);
  }
  return out;
}

}  // namespace qtune::testing
