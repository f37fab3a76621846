// Runs the qtune binary (or mpirun) as a user would, capturing its output.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "common/json.h"

namespace qtune::testing {

struct CommandResult {
  int status = -1;  ///< exit status, or 128 + signal
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `command` through /bin/sh with stdout and stderr captured to files.
inline CommandResult run(const std::string& command) {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("qtune-cmd-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  const std::string full =
      command + " >" + (dir / "out").string() + " 2>" + (dir / "err").string() + " </dev/null";
  const int raw = std::system(full.c_str());
  CommandResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  std::filesystem::remove_all(dir);
  return r;
}

/// "qtune ARGS" with the test cache dir.
/// Runs `command`, expects exit status 0, and parses its stdout as JSON
/// (null when it printed nothing, so the failed status is what gets reported).
inline Json run_json(const std::string& command) {
  const CommandResult r = run(command);
  EXPECT_EQ(r.status, 0) << command << "\n" << r.err;
  return Json::parse(r.out.empty() ? "null" : r.out);
}

inline std::string qtune(const std::string& args) { return std::string(QTUNE_BINARY) + " " + args; }

/// "mpirun --oversubscribe": root needs --allow-run-as-root, CI runs as root.
inline std::string mpirun() {
  std::string flags = " --oversubscribe";
  if (geteuid() == 0) flags += " --allow-run-as-root";
  return std::string(MPIEXEC) + flags;
}

/// "mpirun -np N ... qtune ARGS".
inline std::string mpirun_qtune(int ranks, const std::string& args) {
  return mpirun() + " -np " + std::to_string(ranks) + " " + qtune(args);
}

inline std::string cache_flag() { return std::string(" --cache-dir ") + QTUNE_TEST_CACHE_DIR; }

/// The directories fresh_dir made in this process, removed when it exits
/// if every test passed (a failed test's files stay for inspection): each
/// run used to leave them in the temp directory, a thousand after a week.
class FreshDirs {
 public:
  static void add(const std::filesystem::path& dir) {
    static FreshDirs dirs;
    dirs.dirs_.push_back(dir);
  }
  ~FreshDirs() {
    if (!::testing::UnitTest::GetInstance()->Passed()) return;
    for (const auto& dir : dirs_) {
      std::error_code ignored;  // best effort: a leftover is no test failure
      std::filesystem::remove_all(dir, ignored);
    }
  }

 private:
  std::vector<std::filesystem::path> dirs_;
};

/// A fresh empty directory in the temp directory, removed at exit (FreshDirs).
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("qtune-it-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  FreshDirs::add(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

}  // namespace qtune::testing
