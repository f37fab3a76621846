#include "tuner/command_evaluator.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <sstream>

#include "common/error.h"
#include "storage/artifact.h"
#include "storage/formats/export.h"

namespace qtune {
namespace {

struct Outcome {
  std::string out, err;
  int status = 0;
  bool timed_out = false;
};

std::string last_line(const std::string& s) {
  const size_t end = s.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t nl = s.rfind('\n', end);
  const size_t begin = nl == std::string::npos ? 0 : nl + 1;
  return s.substr(begin, end + 1 - begin);
}

Outcome run_shell(const std::string& command, double timeout_s) {
  int out_pipe[2], err_pipe[2];
  QT_CHECK(pipe(out_pipe) == 0 && pipe(err_pipe) == 0, "evaluation command: cannot create a pipe");
  const pid_t pid = fork();
  QT_CHECK(pid >= 0, "evaluation command: cannot fork");
  if (pid == 0) {
    // Its own process group, so that a timeout kills what the shell started too.
    setpgid(0, 0);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  Outcome o;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&o.out, &o.err};
  int open_fds = 2;
  while (open_fds > 0) {
    int wait_ms = -1;
    if (timeout_s > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) {
        o.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, 1000));
    }
    const int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (o.timed_out) kill(-pid, SIGKILL);
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  while (waitpid(pid, &o.status, 0) < 0 && errno == EINTR) {
  }
  return o;
}

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

EvalResult run_eval_command(const EvalCommand& cmd, const std::filesystem::path& model_dir) {
  QT_ASSERT(!cmd.command.empty() && !cmd.metric.empty(), "an evaluation command needs a metric");
  std::string command = cmd.command;
  const std::string quoted = shell_quote(model_dir.string());
  for (size_t pos = 0; (pos = command.find("{model_dir}", pos)) != std::string::npos;) {
    command.replace(pos, 11, quoted);
    pos += quoted.size();
  }
  const Outcome o = run_shell(command, cmd.timeout_s);
  const std::string err = last_line(o.err);
  const std::string tail = err.empty() ? " (no stderr)" : ": " + err;
  if (o.timed_out) {
    std::ostringstream m;
    m << "evaluation command timed out after " << cmd.timeout_s << "s" << tail;
    throw Error(m.str());
  }
  if (WIFSIGNALED(o.status))
    throw Error("evaluation command killed by signal " + std::to_string(WTERMSIG(o.status)) + tail);
  const int code = WIFEXITED(o.status) ? WEXITSTATUS(o.status) : -1;
  if (code != 0)
    throw Error("evaluation command exited with status " + std::to_string(code) + tail);
  const Json j = Json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  QT_CHECK(!j.is_discarded() && j.is_object(),
           "evaluation command: stdout is not one JSON object (got \"",
           last_line(o.out).substr(0, 80), "\")");
  QT_CHECK(j.contains(cmd.metric), "evaluation command: its JSON has no \"", cmd.metric, "\"");
  QT_CHECK(j[cmd.metric].is_number(), "evaluation command: \"", cmd.metric,
           "\" must be a number, got ", j[cmd.metric].dump());
  EvalResult r;
  r.metric = cmd.metric;
  r.value = j[cmd.metric].get<double>();
  r.higher_is_better = cmd.higher_is_better;
  if (j.contains("samples") && j["samples"].is_number_integer())
    r.samples = j["samples"].get<int64_t>();
  r.details = j;
  return r;
}

EvalResult evaluate_with_command(const EvalCommand& cmd, const Model& model,
                                 const QuantConfig& config,
                                 const std::vector<LayerReport>& reports) {
  std::string pattern = (std::filesystem::temp_directory_path() / "qtune-eval-XXXXXX").string();
  QT_CHECK(mkdtemp(pattern.data()) != nullptr, "evaluation command: cannot create a directory in ",
           std::filesystem::temp_directory_path().string());
  const std::filesystem::path dir = pattern;
  struct Remove {
    std::filesystem::path dir;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove{dir};
  save_model(model, dir / "model", config, reports);
  if (cmd.export_format.empty()) return run_eval_command(cmd, dir / "model");
  const ExportFormat& format = find_export_format(cmd.export_format);
  const bool quantized =
      std::any_of(reports.begin(), reports.end(), [](const LayerReport& r) { return r.quantized; });
  // The Hugging Face formats store quantized layers and refuse a model without
  // any (the fp32 baseline); unquantized, qtune's form already is a plain
  // Hugging Face checkpoint: config.json, model.safetensors, the tokenizer.
  if (!quantized && !format.writes_file) return run_eval_command(cmd, dir / "model");
  ExportInput in;
  in.model = &model;
  in.files_dir = dir / "model";
  const std::filesystem::path out = dir / (format.writes_file ? "model.gguf" : "export");
  const ExportReport report = format.run(in, out);
  return run_eval_command(cmd, report.written.empty() ? out : report.written);
}

}  // namespace qtune
