// `qtune tune` on the user's own data: calibration text and a perplexity file
// (on one process and under mpirun, where the worker ranks read the files
// themselves), and `qtune eval` with the same file and settings giving exactly
// the value the best trial recorded.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

#include "common/json.h"
#include "storage/results_db.h"
#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

namespace fs = std::filesystem;

// Deterministic English-looking text (a fixed LCG over a small word list), not
// the built-in bible: paragraphs of sentences separated by blank lines.
std::string made_up_text(uint64_t seed, int paragraphs) {
  static const char* words[] = {"the",  "river", "ran",   "past",  "a",     "mill",  "where",
                                "old",  "men",   "sat",   "and",   "spoke", "of",    "rain",
                                "corn", "boats", "under", "grey",  "hills", "while", "children",
                                "sang", "in",    "green", "fields"};
  std::string text;
  uint64_t x = seed;
  for (int p = 0; p < paragraphs; ++p) {
    for (int s = 0; s < 4; ++s) {
      std::string sentence;
      for (int w = 0; w < 9; ++w) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        sentence += (w ? " " : "") + std::string(words[(x >> 33) % 25]);
      }
      sentence[0] = static_cast<char>(sentence[0] - 'a' + 'A');
      text += sentence + ".\n";
    }
    text += "\n";
  }
  return text;
}

const char* kYaml =
    "model: builtin:tiny-lm-micro\n"
    "calibration: {text: {dir}/calibration.txt, samples: 8, seqlen: 32, seed: 3}\n"
    "evaluation: {perplexity: {dir}/eval.txt, seqlen: 48, stride: 24, max_windows: 12}\n"
    "search_space:\n"
    "  - algorithm: gptq\n"
    "    params: {bits: [3, 4, 8], group_size: 32}\n"
    "constraints: {max_accuracy_loss: 0.5}\n"
    "objective: size\n"
    "latency: {metric: forward, batch: 1, warmup: 1, runs: 20}\n";

fs::path setup(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  write_file(dir / "calibration.txt", made_up_text(1, 30));
  write_file(dir / "eval.txt", made_up_text(2, 20));
  std::string yaml = kYaml;
  for (size_t pos; (pos = yaml.find("{dir}")) != std::string::npos;)
    yaml.replace(pos, 5, dir.string());
  write_file(dir / "t.yaml", yaml);
  return dir;
}

// Recorded perplexity per trial index, every trial COMPLETED.
std::map<int64_t, double> recorded(const fs::path& db_path, Json* baseline) {
  ResultsDb db(db_path, ResultsDb::Mode::kReadOnly);
  const auto runs = db.runs();
  EXPECT_EQ(runs.size(), 1u);
  if (runs.empty()) return {};
  *baseline = runs.front().baseline;
  std::map<int64_t, double> out;
  for (const auto& t : db.trials(runs.front().id)) {
    EXPECT_EQ(t.status, "COMPLETED") << t.error;
    EXPECT_EQ(t.metrics.value("metric", std::string()), "perplexity");
    if (t.accuracy) out[t.index] = *t.accuracy;
  }
  return out;
}

TEST(UserData, TuneOnCalibrationTextAndPerplexityFileThenEvalReproducesIt) {
  const fs::path dir = setup("user-data-tune");
  const CommandResult r = run(qtune("tune --config " + (dir / "t.yaml").string() + " --out " +
                                    (dir / "out").string() + cache_flag()));
  ASSERT_EQ(r.status, 0) << r.err;
  Json baseline;
  const auto values = recorded(dir / "out" / "results.db", &baseline);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(baseline.at("metric"), "perplexity");
  // (12 - 1) * 24 + 48 = 312 tokens scored: the file's windows, not the bible's.
  EXPECT_EQ(baseline.at("samples"), 312);
  for (const auto& [index, ppl] : values) EXPECT_GT(ppl, 1.0) << "trial " << index;

  const Json q = Json::parse(slurp(dir / "out" / "best" / "qconfig.json"));
  const double best = q.at("metrics").at("recorded_accuracy").get<double>();
  EXPECT_EQ(q.at("metrics").at("data").at("stride"), 24);
  const CommandResult e =
      run(qtune("eval --model " + (dir / "out" / "best").string() + " --eval-file " +
                (dir / "eval.txt").string() + " --seqlen 48 --stride 24 --max-windows 12 --json" +
                cache_flag()));
  ASSERT_EQ(e.status, 0) << e.err;
  const Json ev = Json::parse(e.out);
  EXPECT_EQ(ev.at("metric"), "perplexity");
  EXPECT_EQ(ev.at("tokens"), 312);
  // Exactly: the same tokens, windows and single-threaded evaluation.
  EXPECT_EQ(ev.at("value").get<double>(), best);

  // Without flags, eval reads the file and windows the model recorded.
  const CommandResult recorded_data =
      run(qtune("eval --model " + (dir / "out" / "best").string() + " --json" + cache_flag()));
  ASSERT_EQ(recorded_data.status, 0) << recorded_data.err;
  EXPECT_EQ(Json::parse(recorded_data.out).at("value").get<double>(), best);

  // Other windows give another number: the flags reach the evaluation.
  const CommandResult other = run(qtune("eval --model " + (dir / "out" / "best").string() +
                                        " --eval-file " + (dir / "eval.txt").string() +
                                        " --seqlen 48 --max-windows 12 --json" + cache_flag()));
  ASSERT_EQ(other.status, 0) << other.err;
  EXPECT_NE(Json::parse(other.out).at("value").get<double>(), best);

  // Under mpirun the trials run on rank 1, which reads the files itself: the
  // same numbers.
  const fs::path mpi_out = dir / "out-mpi";
  const CommandResult m = run(mpirun_qtune(2, "tune --config " + (dir / "t.yaml").string() +
                                                  " --out " + mpi_out.string() + cache_flag()));
  ASSERT_EQ(m.status, 0) << m.err;
  Json mpi_baseline;
  EXPECT_EQ(recorded(mpi_out / "results.db", &mpi_baseline), values);
  EXPECT_EQ(mpi_baseline.at("value"), baseline.at("value"));
}

}  // namespace
}  // namespace qtune::testing
