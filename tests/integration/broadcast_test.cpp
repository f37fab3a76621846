// Tuning without a shared filesystem (tuner/input_broadcast.h): the worker
// ranks run with a model cache that does not exist and a working directory
// without the data files; rank 0 sends them the model and the data, and the
// run records exactly what a single process records. QTUNE_NODE_PER_RANK=1
// makes every rank its own node, so the receiving side runs on this machine.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/json.h"
#include "storage/results_db.h"
#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

namespace fs = std::filesystem;

// The data files are named relative to the working directory: rank 0's has
// them, the workers' does not.
const char* kYaml =
    "model: {model}\n"
    "calibration: {text: calibration.txt, samples: 8, seqlen: 32, seed: 3}\n"
    "evaluation: {perplexity: eval.txt, seqlen: 48, stride: 24, max_windows: 12}\n"
    "search_space:\n"
    "  - algorithm: rtn\n"
    "    params: {bits: [4, 8], group_size: 32}\n"
    "constraints: {max_accuracy_loss: 0.5}\n"
    "objective: size\n"
    "latency: {metric: forward, batch: 1, warmup: 1, runs: 20}\n";

std::string lines(int count, const std::string& word) {
  std::string text;
  for (int i = 0; i < count; ++i)
    text += "The " + word + " number " + std::to_string(i * 7 % 13) + " went by the mill.\n\n";
  return text;
}

fs::path setup(const std::string& name, const std::string& model) {
  const fs::path dir = fresh_dir(name);
  write_file(dir / "calibration.txt", lines(60, "boat"));
  write_file(dir / "eval.txt", lines(40, "cart"));
  std::string yaml = kYaml;
  yaml.replace(yaml.find("{model}"), 7, model);
  write_file(dir / "t.yaml", yaml);
  fs::create_directories(dir / "elsewhere");
  return dir;
}

std::map<int64_t, double> recorded(const fs::path& db_path) {
  ResultsDb db(db_path, ResultsDb::Mode::kReadOnly);
  const auto runs = db.runs();
  EXPECT_EQ(runs.size(), 1u);
  std::map<int64_t, double> out;
  if (runs.empty()) return out;
  for (const auto& t : db.trials(runs.front().id)) {
    EXPECT_EQ(t.status, "COMPLETED") << t.error;
    if (t.accuracy) out[t.index] = *t.accuracy;
  }
  return out;
}

std::string tune_args(const fs::path& dir, const std::string& out, const fs::path& cache,
                      const std::string& extra) {
  return qtune("tune --config " + (dir / "t.yaml").string() + " --out " + (dir / out).string() +
               " --json --cache-dir " + cache.string() + extra);
}

// Rank 0 in `dir` with the test cache; two workers in dir/elsewhere with a
// cache folder that does not exist; one node per rank.
std::string three_nodes(const fs::path& dir, const std::string& out, const std::string& extra) {
  return "QTUNE_NODE_PER_RANK=1 " + mpirun() + " -np 1 -wdir " + dir.string() + " " +
         tune_args(dir, out, QTUNE_TEST_CACHE_DIR, extra) + " : -np 2 -wdir " +
         (dir / "elsewhere").string() + " " +
         tune_args(dir, out, dir / "elsewhere" / "no-cache", extra);
}

int shm_entries() {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev/shm", ec))
    n += e.path().filename().string().rfind("qtune-inputs-", 0) == 0;
  return n;
}

void expect_same_results_as_one_process(const fs::path& dir, int64_t files_sent) {
  const CommandResult single =
      run("cd " + dir.string() + " && " + tune_args(dir, "out-single", QTUNE_TEST_CACHE_DIR, ""));
  ASSERT_EQ(single.status, 0) << single.err;
  const auto expected = recorded(dir / "out-single" / "results.db");
  ASSERT_EQ(expected.size(), 2u);

  const int shm_before = shm_entries();
  const CommandResult r = run(three_nodes(dir, "out-mpi", ""));
  ASSERT_EQ(r.status, 0) << r.err;
  const Json summary = Json::parse(r.out);
  const Json& b = summary.at("broadcast");
  EXPECT_EQ(b.at("nodes"), 3);
  EXPECT_TRUE(b.at("skipped").is_null()) << b.dump();
  EXPECT_EQ(b.at("files").get<int64_t>(), files_sent) << b.dump();
  EXPECT_GT(b.at("bytes").get<int64_t>(), 0);
  // The workers ran every trial from the copies: same values as one process.
  EXPECT_EQ(recorded(dir / "out-mpi" / "results.db"), expected);
  // Nothing was trained into the workers' cache, nothing left in shared memory.
  EXPECT_FALSE(fs::exists(dir / "elsewhere" / "no-cache"));
  EXPECT_EQ(shm_entries(), shm_before);

  // The control: without the broadcast the workers cannot read the data.
  const CommandResult off = run(three_nodes(dir, "out-off", " --no-broadcast"));
  EXPECT_NE(off.status, 0) << off.out;
}

TEST(Broadcast, WorkersWithoutCacheOrDataRunABuiltinModelFromRankZerosFiles) {
  const fs::path dir = setup("broadcast-builtin", "builtin:tiny-lm-micro");
  // tiny-lm-micro's folder (config, weights, tokenizer, tag, training record)
  // and the two data files.
  const fs::path folder = fs::path(QTUNE_TEST_CACHE_DIR) / "tiny-lm-micro";
  const CommandResult warm =
      run(qtune("eval --model builtin:tiny-lm-micro --samples 1" + cache_flag()));
  ASSERT_EQ(warm.status, 0) << warm.err;
  int64_t files = 2;
  for (const auto& e : fs::directory_iterator(folder)) files += e.is_regular_file();
  expect_same_results_as_one_process(dir, files);
}

TEST(Broadcast, WorkersWithoutTheCheckpointFolderRunItFromRankZerosFiles) {
  const CommandResult warm =
      run(qtune("eval --model builtin:tiny-lm-micro --samples 1" + cache_flag()));
  ASSERT_EQ(warm.status, 0) << warm.err;
  // A Hugging Face folder named relative to rank 0's working directory.
  const fs::path dir = setup("broadcast-ckpt", "hf:ckpt");
  fs::copy(fs::path(QTUNE_TEST_CACHE_DIR) / "tiny-lm-micro", dir / "ckpt");
  // config.json, model.safetensors, tokenizer.json and the two data files.
  expect_same_results_as_one_process(dir, 5);
}

}  // namespace
}  // namespace qtune::testing
