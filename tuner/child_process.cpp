#include "tuner/child_process.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "common/error.h"

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

std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

[[noreturn]] void child_main(int fd, const std::function<Json()>& body) {
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

ChildOutcome run_in_child(const std::function<Json()>& body, const std::string& what) {
  int fds[2];
  QT_CHECK(::pipe(fds) == 0, what,
           ": cannot create a pipe for the child process: ", strerror(errno));
  // Buffered output would otherwise be written twice, by parent and child.
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    QT_CHECK(false, what, ": cannot fork a child process: ", strerror(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], body);
  }
  ::close(fds[1]);
  const std::string text = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ChildOutcome out;
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
