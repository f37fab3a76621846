#include "tuner/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "common/first_line.h"

namespace qtune {

namespace {

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

using Clock = std::chrono::steady_clock;

// Reads until the writer closes the pipe (true) or `deadline` passes (false);
// no deadline: waits as long as the writer lives.
bool read_all(int fd, std::string& out, std::optional<Clock::time_point> deadline) {
  char buf[65536];
  while (true) {
    int wait_ms = -1;
    if (deadline) {
      const double left = std::chrono::duration<double>(*deadline - Clock::now()).count();
      if (left <= 0) return false;
      wait_ms = static_cast<int>(std::ceil(left * 1000));
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno != EINTR) return true;  // nothing more can be read
    if (ready <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out.append(buf, static_cast<size_t>(n));
  }
}

[[noreturn]] void child_main(int fd, const std::function<Json()>& body, pid_t parent) {
  // A worker that dies (killed, or its job torn down by mpirun) takes its
  // trial along, instead of leaving an orphan that computes for no one next
  // to the resumed run. The signal follows the forking thread, which waits
  // in run_in_child as long as this child lives. The parent may have died
  // before the call: then nobody reads the result.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(4);
  // The worker must outlive its trials: let the kernel pick this process.
  std::ofstream("/proc/self/oom_score_adj") << 1000;
  Json message;
  try {
    message = {{"value", body()}};
  } catch (const std::exception& e) {
    message = {{"error", first_line(e.what())}};
  } catch (...) {
    message = {{"error", "unknown exception"}};
  }
  const bool sent = write_all(fd, message.dump());
  std::fflush(nullptr);
  // No exit handlers: they belong to the parent (MPI, LibTorch's statics).
  ::_exit(sent ? 0 : 3);
}

}  // namespace

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

ChildOutcome run_in_child(const std::function<Json()>& body, const std::string& what,
                          double timeout_s) {
  int fds[2];
  // Close-on-exec: a program the child runs (an external evaluator) must not
  // hold the write end open after the child is gone.
  QT_CHECK(::pipe2(fds, O_CLOEXEC) == 0, what,
           ": cannot create a pipe for the child process: ", strerror(errno));
  // Buffered output would otherwise be written twice, by parent and child.
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  std::optional<Clock::time_point> deadline;
  if (timeout_s > 0)
    deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(timeout_s));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    QT_CHECK(false, what, ": cannot fork a child process: ", strerror(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], body, parent);
  }
  ::close(fds[1]);
  std::string text;
  const bool finished = read_all(fds[0], text, deadline);
  ::close(fds[0]);
  if (!finished) ::kill(pid, SIGKILL);
  int status = 0;
  struct rusage usage {};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  ChildOutcome out;
  out.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux: KiB
  if (!finished) {
    out.timed_out = true;
    std::ostringstream m;
    m << what << " still running after " << timeout_s << "s: killed (SIGKILL)";
    out.error = m.str();
    return out;
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    out.error = what + " crashed: " + signal_name(sig) + " (signal " + std::to_string(sig) + ")";
    return out;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const Json message = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (code != 0 || !message.is_object()) {
    out.error = what + " process exited with status " + std::to_string(code) + " without a result";
    return out;
  }
  if (message.contains("value"))
    out.value = message["value"];
  else
    out.error = message.value("error", std::string("no message"));
  return out;
}

}  // namespace qtune
