// Memory of GPTQ W4 g128 on builtin:llama-1b-shape (TinyLlama-1.1B's shapes,
// a bf16 checkpoint of 2.2 GB), run through the qtune binary as a user runs
// it, with the weights held in bf16 (--weights-dtype) and, for comparison, in
// fp32. A sampler reads /proc/PID/smaps_rollup of the whole process tree
// every 20 ms: proportional set size (PSS) counts a page shared by n
// processes as 1/n in each, so the checkpoint's one file mapping, shared by
// every rank of a node, is counted once in the sum.
//
//   OneRank/bf16|fp32: `qtune quantize --algorithm gptq` in one process;
//     peak_rss (the kernel's ru_maxrss) against the bf16 size.
//     Goal (issue 12): bf16 peak RSS <= 1.5x the model's bf16 size.
//   ThreeRanks/bf16: `mpirun -np 3 qtune tune` of three GPTQ trials, one per
//     rank at once, isolated in forked children as tune runs them; peak of
//     the tree's summed PSS. Goal: <= 2x the one-rank goal (3x the bf16 size).
//
//   build/bench/suites/bench_model_memory
//
// Each iteration takes minutes (GPTQ over 22 layers); the model is built in
// the cache (XDG_CACHE_HOME/qtune, else ~/.cache/qtune) first if missing.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "models/builtin.h"
#include "models/llama/builtin_lm.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

constexpr const char* kSpec = "builtin:llama-1b-shape";
constexpr double kGiB = 1024.0 * 1024 * 1024;

/// The field `key` ("Pss:", "Rss:") of /proc/PID/smaps_rollup in bytes (0 if gone).
int64_t rollup_bytes(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    return std::stoll(line.substr(key.size())) * 1024;  // kB
  }
  return 0;
}

/// Every live process whose parent chain reaches `root`, `root` included.
std::vector<pid_t> process_tree(pid_t root) {
  std::map<pid_t, pid_t> parent;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      const pid_t pid = std::atoi(e->d_name);
      if (pid <= 0) continue;
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string s;
      std::getline(stat, s);
      const auto close = s.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(s.substr(close + 2));
      char state;
      pid_t ppid;
      rest >> state >> ppid;
      parent[pid] = ppid;
    }
    closedir(d);
  }
  std::vector<pid_t> out;
  for (const auto& [pid, ppid] : parent) {
    for (pid_t p = pid; p > 1; p = parent.count(p) ? parent[p] : 0) {
      if (p != root) continue;
      out.push_back(pid);
      break;
    }
  }
  return out;
}

struct Peak {
  double pss_sum = 0;  ///< the tree's summed PSS, at its highest sample
  double rss_max = 0;  ///< the largest RSS of one process, sampled
  /// The kernel's peak RSS (wait4) of the process started or of the largest
  /// descendant it waited for (under mpirun: the largest rank or trial).
  double ru_maxrss = 0;
  int exit_status = -1;
};

/// Runs `argv` and samples its process tree until it exits.
Peak run_sampled(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  Peak peak;
  if (posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) return peak;
  posix_spawn_file_actions_destroy(&actions);
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      double pss = 0;
      for (pid_t p : process_tree(pid)) {
        pss += rollup_bytes(p, "Pss:");
        peak.rss_max = std::max(peak.rss_max, static_cast<double>(rollup_bytes(p, "Rss:")));
      }
      peak.pss_sum = std::max(peak.pss_sum, pss);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  done = true;
  sampler.join();
  peak.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  peak.ru_maxrss = usage.ru_maxrss * 1024.0;  // kB on Linux
  return peak;
}

/// The model's size held in bf16: 2 bytes a parameter (its norms included).
double bf16_bytes(const fs::path& dir) {
  return static_cast<double>(fs::file_size(dir / "model.safetensors"));
}

fs::path work_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("bench-model-memory-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

const fs::path& model_dir() {
  static const fs::path dir = qtune::ensure_builtin_lm(kSpec, qtune::default_cache_dir(), true);
  return dir;
}

void report(benchmark::State& state, const Peak& p, double model_bytes) {
  if (p.exit_status != 0) state.SkipWithError("qtune failed");
  state.counters["bf16_size_GiB"] = model_bytes / kGiB;
  state.counters["peak_rss_GiB"] = p.ru_maxrss / kGiB;
  state.counters["sampled_rss_max_GiB"] = p.rss_max / kGiB;
  state.counters["peak_pss_sum_GiB"] = p.pss_sum / kGiB;
  state.counters["rss_over_bf16"] = p.ru_maxrss / model_bytes;
  state.counters["pss_sum_over_bf16"] = p.pss_sum / model_bytes;
}

void BM_OneRank(benchmark::State& state, const char* dtype) {
  const double model_bytes = bf16_bytes(model_dir());
  for (auto _ : state) {
    const fs::path d = work_dir(std::string("one-") + dtype);
    const Peak p = run_sampled({QTUNE_BINARY, "quantize", "--model", kSpec, "--weights-dtype",
                                dtype, "--algorithm", "gptq", "--bits", "4", "--group-size", "128",
                                "--calibration-samples", "32", "--out", (d / "out").string()});
    report(state, p, model_bytes);
    fs::remove_all(d);
  }
}

void BM_ThreeRanks(benchmark::State& state, const char* dtype) {
  const double model_bytes = bf16_bytes(model_dir());
  for (auto _ : state) {
    const fs::path d = work_dir(std::string("three-") + dtype);
    std::ofstream(d / "tune.yaml") << "model: " << kSpec << "\nweights_dtype: " << dtype << R"(
calibration: {samples: 32}
evaluation: {samples: 8}
search_space:
  - algorithm: gptq
    params: {bits: 4, group_size: 128, scheme: [sym, asym], act_order: [false, true]}
objective: accuracy
max_trials: 3
latency: {runs: 20, warmup: 1}
)";
    std::vector<std::string> args{MPIEXEC, "-np", "3", "--oversubscribe"};
    if (geteuid() == 0) args.push_back("--allow-run-as-root");
    for (const char* a : {QTUNE_BINARY, "tune", "--config"}) args.push_back(a);
    args.push_back((d / "tune.yaml").string());
    args.push_back("--out");
    args.push_back((d / "out").string());
    const Peak p = run_sampled(args);
    report(state, p, model_bytes);
    fs::remove_all(d);
  }
}

BENCHMARK_CAPTURE(BM_OneRank, bf16, "bfloat16")->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_OneRank, fp32, "float32")->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_ThreeRanks, bf16, "bfloat16")->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
