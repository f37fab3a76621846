// The external evaluator (evaluation: {command: ...}) with small shell scripts
// the tests write: a metric read from its JSON, each way it can fail, its
// timeout, and a tuning run whose trials it scores.
#include "tuner/command_evaluator.h"

#include <gtest/gtest.h>

#include <chrono>

#include "models/builtin.h"
#include "storage/artifact.h"
#include "storage/formats/export.h"
#include "storage/results_db.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"
#include "tuner/autotune.h"
#include "tuner/trial_runner.h"
#include "tuner/tuning_config.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

EvalCommand command(const std::string& cmd, double timeout_s = 0) {
  EvalCommand c;
  c.command = cmd;
  c.metric = "score";
  c.timeout_s = timeout_s;
  return c;
}

// A tuning run of tiny-lm-micro, RTN with `params`, scored by the script
// dir/eval.sh with `settings` beside its command, results in dir/out.
TuneSummary tune_scored_by_script(const TempDir& dir, const std::string& settings,
                                  const std::string& params, const std::string& max_loss) {
  const std::string yaml =
      "model: builtin:tiny-lm-micro\n"
      "calibration: {samples: 4}\n"
      "evaluation: {command: \"sh " +
      (dir / "eval.sh").string() + " {model_dir}\", metric: score, " + settings +
      "}\n"
      "search_space:\n  - algorithm: rtn\n    params: " +
      params + "\nconstraints: {max_accuracy_loss: " + max_loss +
      "}\nobjective: size\n"
      "latency: {metric: forward, batch: 1, warmup: 1, runs: 20}\n";
  TuneOptions o;
  o.out_dir = dir / "out";
  o.cache_dir = QTUNE_TEST_CACHE_DIR;
  o.print_table = false;
  return run_tuning(parse_tuning_config(yaml, "t.yaml"), o);
}

TEST(ShellQuote, SurvivesSpacesAndQuotes) {
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}

TEST(EvalCommand, ReadsTheMetricAndGetsTheQuotedDirectory) {
  TempDir dir;
  const std::filesystem::path odd = dir / "a dir with 'quotes' and $HOME";
  std::filesystem::create_directories(odd);
  write_bytes(odd / "marker", "x");
  write_bytes(dir / "eval.sh",
              "test -f \"$1/marker\" || { echo \"no marker in $1\" >&2; exit 3; }\n"
              "printf '{\"score\": 0.625, \"samples\": 7, \"note\": \"%s\"}\\n' \"$1\"\n");
  const EvalResult r =
      run_eval_command(command("sh " + (dir / "eval.sh").string() + " {model_dir}"), odd);
  EXPECT_EQ(r.metric, "score");
  EXPECT_EQ(r.value, 0.625);
  EXPECT_EQ(r.samples, 7);
  EXPECT_TRUE(r.higher_is_better);
  EXPECT_EQ(r.details.at("note"), odd.string());
}

TEST(EvalCommand, FailuresCarryTheLastStderrLine) {
  TempDir dir;
  const std::filesystem::path m = dir.path();
  expect_error(
      [&] { run_eval_command(command("echo first >&2; echo 'out of memory' >&2; exit 4"), m); },
      "evaluation command exited with status 4: out of memory");
  expect_error([&] { run_eval_command(command("exit 2"), m); },
               "evaluation command exited with status 2 (no stderr)");
  expect_error([&] { run_eval_command(command("echo 'score: high'"), m); },
               "evaluation command: stdout is not one JSON object (got \"score: high\")");
  expect_error([&] { run_eval_command(command("echo '[1, 2]'"), m); },
               "evaluation command: stdout is not one JSON object");
  expect_error([&] { run_eval_command(command("echo '{\"acc\": 1}'"), m); },
               "evaluation command: its JSON has no \"score\"");
  expect_error([&] { run_eval_command(command("echo '{\"score\": \"good\"}'"), m); },
               "evaluation command: \"score\" must be a number, got \"good\"");
  expect_error([&] { run_eval_command(command("kill -9 $$"), m); },
               "evaluation command killed by signal 9");
}

TEST(EvalCommand, TimeoutKillsTheCommandAndItsChildren) {
  TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  expect_error(
      [&] {
        run_eval_command(command("echo starting >&2; sleep 30; echo '{\"score\": 1}'", 0.3),
                         dir.path());
      },
      "evaluation command timed out after 0.3s: starting");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The sleep holds the output pipes: returning at all means it was killed too.
  EXPECT_LT(s, 20.0);
}

// A tune run scored by a script that fails on quantized models with 2-bit
// layers and scores the others by the number of saved layers marked
// quantized: the baseline passes through the same script (on the fp32 model).
TEST(EvalCommand, ScoresTrialsAndFailsThemOneByOne) {
  TempDir dir;
  write_bytes(dir / "eval.sh",
              "q=$1/qconfig.json\n"
              "test -f \"$q\" || { echo \"no $q\" >&2; exit 5; }\n"
              "if grep -q '\"bits\": 2' \"$q\"; then echo 'two bits is too few' >&2; exit 1; fi\n"
              "n=$(grep -c '\"quantized\": true' \"$q\")\n"
              "echo \"{\\\"score\\\": $((100 - n))}\"\n");
  const TuneSummary s = tune_scored_by_script(dir, "timeout_s: 60, higher_is_better: true",
                                              "{bits: [8, 2], group_size: 32}", "0.5");
  EXPECT_EQ(s.baseline.at("metric"), "score");
  EXPECT_EQ(s.baseline.at("value").get<double>(), 100.0) << "the fp32 model has no quantized layer";
  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  const auto rows = db.trials(s.run_id);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& t : rows) {
    const int bits = t.config.at("params").at("bits").get<int>();
    if (bits == 8) {
      EXPECT_EQ(t.status, "COMPLETED") << t.error;
      ASSERT_TRUE(t.accuracy);
      EXPECT_LT(*t.accuracy, 100.0) << "a quantized model has quantized layers";
      EXPECT_GT(*t.accuracy, 0.0);
    } else {
      EXPECT_EQ(t.status, "FAILED");
      EXPECT_EQ(t.error, "evaluation command exited with status 1: two bits is too few");
    }
  }
}

// evaluation.export: the command gets the trial's model as llama.cpp's GGUF
// file, and the fp32 baseline's as well. The script scores a file by its size
// after checking its magic; the test exports the same models itself, so the
// recorded scores must be exactly those files' sizes.
TEST(EvalCommand, ExportHandsTheCommandTheGgufFile) {
  TempDir dir;
  write_bytes(
      dir / "eval.sh",
      "test \"$(head -c 4 \"$1\")\" = GGUF || { echo \"not a GGUF file: $1\" >&2; exit 6; }\n"
      "echo \"{\\\"score\\\": $(wc -c < \"$1\")}\"\n");
  const TuneSummary s = tune_scored_by_script(dir, "higher_is_better: false, export: gguf",
                                              "{bits: [8, 4], group_size: 32, scheme: sym}", "0.5");

  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  const ModelPtr base = load_model("builtin:tiny-lm-micro", mo);
  const auto gguf_size = [&](const Model& m, const QuantConfig& qc,
                             const std::vector<LayerReport>& reports, const std::string& name) {
    save_model(m, dir / name, qc, reports);
    ExportInput in;
    in.model = &m;
    in.files_dir = dir / name;
    find_export_format("gguf").run(in, dir / (name + ".gguf"));
    return static_cast<double>(std::filesystem::file_size(dir / (name + ".gguf")));
  };
  EXPECT_EQ(s.baseline.at("value").get<double>(), gguf_size(*base, QuantConfig{}, {}, "fp32"));
  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  const auto rows = db.trials(s.run_id);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& t : rows) {
    ASSERT_EQ(t.status, "COMPLETED") << t.error;
    const QuantConfig qc = QuantConfig::from_json(t.config, "trial");
    std::vector<LayerReport> reports;
    const ModelPtr q = quantize_clone(*base, qc, CalibrationData{}, &reports);
    EXPECT_EQ(*t.accuracy, gguf_size(*q, qc, reports, "t" + std::to_string(t.index)))
        << "trial " << t.index;
    EXPECT_LT(*t.accuracy, s.baseline.at("value").get<double>()) << "quantized is smaller";
  }
}

// hf-gptq: trials get the GPTQ checkpoint (its config.json names the method);
// the fp32 baseline, which that format cannot hold, gets qtune's form.
TEST(EvalCommand, ExportHandsTheCommandTheGptqCheckpoint) {
  TempDir dir;
  write_bytes(dir / "eval.sh",
              "test -f \"$1/config.json\" || { echo \"no config.json in $1\" >&2; exit 7; }\n"
              "if grep -q '\"quant_method\": *\"gptq\"' \"$1/config.json\"; then\n"
              "  echo '{\"score\": 1}'\nelse\n  echo '{\"score\": 2}'\nfi\n");
  const TuneSummary s = tune_scored_by_script(dir, "higher_is_better: false, export: hf-gptq",
                                              "{bits: 4, group_size: 32, scheme: sym}", "0.9");
  EXPECT_EQ(s.baseline.at("value").get<double>(), 2.0) << "qtune's form, no quantization_config";
  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  const auto rows = db.trials(s.run_id);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].status, "COMPLETED") << rows[0].error;
  EXPECT_EQ(*rows[0].accuracy, 1.0) << "the GPTQ checkpoint";
}

}  // namespace
}  // namespace qtune
