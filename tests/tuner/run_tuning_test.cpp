// Small real runs on builtin:fmnist-cnn-tiny (trained once into the test
// cache, shared by every test process): database rows, the saved best model
// reproducing its accuracy, resume, failures and timeouts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <regex>

#include "common/error.h"
#include "models/builtin.h"
#include "storage/artifact.h"
#include "tests/support/temp_dir.h"
#include "tuner/autotune.h"
#include "tuner/trial.h"
#include "tuner/trial_runner.h"

namespace qtune {
namespace {

const std::filesystem::path kCache = QTUNE_TEST_CACHE_DIR;

// "2024-05-01T12:34:56.789Z": what storage's iso8601_utc_now() writes.
bool is_millis_utc(const std::string& t) {
  static const std::regex re(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  return std::regex_match(t, re);
}

using testing::TempDir;

// Two to three trials; objective size makes the best a function of recorded
// numbers only. The tiny model is weak, so the loss budget is generous.
std::string yaml(int max_trials, const std::string& extra = "") {
  return "model: builtin:fmnist-cnn-tiny\n"
         "calibration: {samples: 32}\n"
         "evaluation: {samples: 300}\n"
         "search_space:\n"
         "  - algorithm: rtn\n"
         "    params: {bits: [8, 4, 2], group_size: 32}\n"
         "constraints: {max_accuracy_loss: 0.05}\n"
         "objective: size\n"
         "max_trials: " +
         std::to_string(max_trials) + "\nseed: 3\nlatency: {batch: 8, warmup: 1, runs: 20}\n" +
         extra;
}

TuneOptions quiet(const std::filesystem::path& out) {
  TuneOptions o;
  o.out_dir = out;
  o.cache_dir = kCache;
  o.print_table = false;
  return o;
}

TEST(RunTuning, RecordsTrialsAndSavesABestThatReproducesItsAccuracy) {
  TempDir dir;
  const TuningConfig config = parse_tuning_config(yaml(2), "t.yaml");
  const TuneSummary s = run_tuning(config, quiet(dir.path()));

  ASSERT_EQ(s.trials.size(), 2u);
  EXPECT_EQ(s.trials_run, 2);
  EXPECT_EQ(s.baseline.at("metric"), "accuracy");
  const double base = s.baseline.at("value").get<double>();
  EXPECT_GT(base, 0.3) << "the tiny model must beat chance (0.1) clearly";

  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  const auto run = db.run(s.run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, "COMPLETED");
  EXPECT_EQ(run->config_hash, config_hash(config.identity_json()));
  const auto rows = db.trials(s.run_id);
  ASSERT_EQ(rows.size(), 2u);
  const auto expanded = expand_search_space(config);
  for (const auto& t : rows) {
    EXPECT_EQ(t.status, "COMPLETED") << t.error;
    // The stored config hashes back to the stored hash and to the expanded trial.
    EXPECT_EQ(config_hash(t.config), t.config_hash);
    EXPECT_EQ(t.config_hash, config_hash(expanded.at(t.index)));
    ASSERT_TRUE(t.accuracy && t.accuracy_loss && t.latency_ms_p50 && t.size_bytes && t.passed);
    EXPECT_NEAR(*t.accuracy_loss, (base - *t.accuracy) / base, 1e-12);
    EXPECT_GT(*t.latency_ms_p50, 0);
    EXPECT_GE(t.metrics.at("latency").at("runs").get<int>(), 20);
    // Milliseconds, as the run's own times: a re-run within a second is told apart.
    EXPECT_TRUE(is_millis_utc(t.started_at)) << t.started_at;
    EXPECT_TRUE(is_millis_utc(t.ended_at)) << t.ended_at;
  }
  EXPECT_TRUE(is_millis_utc(run->started_at)) << run->started_at;
  // 4-bit weights take less room than 8-bit ones.
  EXPECT_LT(*rows[1].size_bytes, *rows[0].size_bytes);

  ASSERT_TRUE(s.best) << "8-bit RTN must pass a 5% budget";
  EXPECT_EQ(run->best_trial_id, s.best->id);
  for (const auto& t : rows)
    if (*t.passed) EXPECT_GE(*t.size_bytes, *s.best->size_bytes);
  ASSERT_TRUE(is_saved_model_dir(s.best_dir));
  EXPECT_EQ(s.rematerialized_accuracy, s.best->accuracy);

  // Reloaded from disk alone, evaluated on the same data: the recorded accuracy, exactly.
  SavedModelInfo info;
  ModelPtr reloaded = load_saved_model(s.best_dir, &info);
  EXPECT_EQ(info.qconfig.at("metrics").at("trial_id"), s.best->id);
  const TaskData data =
      load_task_data(config.model, config.calibration_samples, config.eval_samples, config.seed);
  const EvalResult again =
      evaluate_in_units([&](const Model& m) { return data.evaluate(m); }, *reloaded);
  EXPECT_EQ(again.value, *s.best->accuracy);
}

TEST(RunTuning, ResumeSkipsFinishedTrialsAndRerunsRunningOnes) {
  TempDir dir;
  const TuneSummary first = run_tuning(parse_tuning_config(yaml(1), "t.yaml"), quiet(dir.path()));
  ASSERT_EQ(first.trials.size(), 1u);
  const TrialRecord done = first.trials[0];

  // A trial left RUNNING by a killed run: pre-inserted as index 1.
  const TuningConfig bigger = parse_tuning_config(yaml(3), "t.yaml");
  const auto expanded = expand_search_space(bigger);
  {
    ResultsDb db(first.db_path, ResultsDb::Mode::kReadWrite);
    TrialRecord zombie;
    zombie.run_id = first.run_id;
    zombie.index = 1;
    zombie.config = Json::parse(canonical_json(expanded[1].to_json()));
    zombie.config_hash = config_hash(expanded[1]);
    zombie.status = "RUNNING";
    zombie.algorithm = "rtn";
    zombie.backend = "auto";
    zombie.started_at = "2000-01-01T00:00:00Z";
    db.record_trial(zombie);
  }

  TuneOptions o = quiet(dir.path());
  o.resume = true;
  o.json = true;  // what `qtune tune --json` prints
  ::testing::internal::CaptureStdout();
  const TuneSummary s = run_tuning(bigger, o);  // same run: the budget is not its identity
  const Json printed = Json::parse(::testing::internal::GetCapturedStdout());
  EXPECT_EQ(s.run_id, first.run_id);
  EXPECT_EQ(s.trials_skipped, 1);
  EXPECT_EQ(s.trials_run, 2) << "the RUNNING trial and the new one";
  EXPECT_EQ(printed.at("run_id"), first.run_id);
  EXPECT_EQ(printed.at("trials_skipped"), 1);
  EXPECT_EQ(printed.at("trials_run"), 2);
  EXPECT_EQ(printed.at("trials").size(), 3u);
  ASSERT_EQ(s.trials.size(), 3u);
  EXPECT_EQ(s.trials[0].id, done.id);
  EXPECT_EQ(s.trials[0].started_at, done.started_at) << "finished trial was re-run";
  EXPECT_EQ(s.trials[1].status, "COMPLETED");
  EXPECT_NE(s.trials[1].started_at, "2000-01-01T00:00:00Z");
  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  EXPECT_EQ(db.runs().size(), 1u);
}

// Resumed with a smaller max_trials, the run holds a row outside the shorter
// space; it is the best by size (1 byte) but has no config here to rebuild.
TEST(RunTuning, ResumeWithFewerTrialsIgnoresRowsOutsideTheSpace) {
  TempDir dir;
  const TuneSummary first = run_tuning(parse_tuning_config(yaml(1), "t.yaml"), quiet(dir.path()));
  const auto wider = expand_search_space(parse_tuning_config(yaml(3), "t.yaml"));
  {
    ResultsDb db(first.db_path, ResultsDb::Mode::kReadWrite);
    TrialRecord outside;
    outside.run_id = first.run_id;
    outside.index = 1;
    outside.config = Json::parse(canonical_json(wider[1].to_json()));
    outside.config_hash = config_hash(wider[1]);
    outside.status = "COMPLETED";
    outside.algorithm = "rtn";
    outside.backend = "eager";
    outside.accuracy = first.baseline.at("value").get<double>();
    outside.accuracy_loss = 0.0;
    outside.latency_ms_p50 = 1.0;
    outside.size_bytes = 1;
    outside.passed = true;
    db.record_trial(outside);
  }
  TuneOptions o = quiet(dir.path());
  o.resume = true;
  const TuneSummary s = run_tuning(parse_tuning_config(yaml(1), "t.yaml"), o);
  EXPECT_EQ(s.trials_skipped, 1);
  EXPECT_EQ(s.trials_run, 0);
  ASSERT_TRUE(s.best);
  EXPECT_EQ(s.best->index, 0);
  EXPECT_EQ(s.best->id, first.trials[0].id);
  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  EXPECT_EQ(db.run(s.run_id)->status, "COMPLETED");
  EXPECT_EQ(db.run(s.run_id)->best_trial_id, s.best->id);
}

TEST(RunTuning, ResumeWithoutAMatchingRunIsAnError) {
  TempDir dir;
  TuneOptions o = quiet(dir.path());
  o.resume = true;
  const std::string expected =
      (dir.path() / "results.db").string() + ": no run with this config to resume";
  try {
    run_tuning(parse_tuning_config(yaml(1), "t.yaml"), o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), expected);
  }
  run_tuning(parse_tuning_config(yaml(1), "t.yaml"), quiet(dir.path()));
  try {
    std::string other = yaml(1);
    other.replace(other.find("objective: size"), 15, "objective: accuracy");
    run_tuning(parse_tuning_config(other, "t.yaml"), o);
    FAIL() << "a different config must not resume this run";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), expected);
  }
}

// The parser rejects this count; a config built in code reaches the loader,
// which must fail before out_dir or its database is created.
TEST(RunTuning, WorkloadThatCannotLoadWritesNothing) {
  TempDir dir;
  TuningConfig config = parse_tuning_config(yaml(1), "t.yaml");
  config.eval_samples = 10001;
  try {
    run_tuning(config, quiet(dir.path() / "out"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("evaluation samples must be <= 10000"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out" / "results.db"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out"));
}

TEST(RunTuning, TrialTimeoutIsRecordedAsTimeout) {
  TempDir dir;
  // 1 ns: every trial is over its limit at the first check.
  const TuneSummary s = run_tuning(
      parse_tuning_config(yaml(1, "trial_timeout: 0.000000001\n"), "t.yaml"), quiet(dir.path()));
  ASSERT_EQ(s.trials.size(), 1u);
  EXPECT_EQ(s.trials[0].status, "TIMEOUT");
  EXPECT_EQ(s.trials[0].error, "exceeded trial_timeout of 1e-09s during model loading");
  EXPECT_FALSE(s.best);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "best"));
}

// A run with no passing trial must not leave an earlier run's best/ behind.
TEST(RunTuning, NoPassingTrialRemovesAnEarlierBest) {
  TempDir dir;
  const TuneSummary good = run_tuning(parse_tuning_config(yaml(1), "t.yaml"), quiet(dir.path()));
  ASSERT_TRUE(good.best);
  ASSERT_TRUE(is_saved_model_dir(dir.path() / "best"));
  const TuneSummary none = run_tuning(
      parse_tuning_config(yaml(1, "trial_timeout: 0.000000001\n"), "t.yaml"), quiet(dir.path()));
  EXPECT_NE(none.run_id, good.run_id);
  EXPECT_FALSE(none.best);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "best"));
}

// The whole-run timeout stops the hand-out before the first trial.
TEST(RunTuning, RunStoppedByTimeoutIsInterrupted) {
  TempDir dir;
  const TuneSummary s = run_tuning(parse_tuning_config(yaml(3, "timeout: 0.000000001\n"), "t.yaml"),
                                   quiet(dir.path()));
  EXPECT_TRUE(s.timed_out);
  EXPECT_EQ(s.trials_run, 0);
  ResultsDb db(s.db_path, ResultsDb::Mode::kReadOnly);
  EXPECT_EQ(db.run(s.run_id)->status, "INTERRUPTED");
  EXPECT_FALSE(db.run(s.run_id)->ended_at.empty());
}

// The library entry with a user evaluator; its second call (the first trial)
// throws, which must become a FAILED trial while the run goes on.
TEST(Autotune, UserEvaluatorFailureBecomesAFailedTrialAndBestIsReturned) {
  TempDir dir;
  ModelOptions mo;
  mo.cache_dir = kCache;
  ModelPtr model = load_model("builtin:fmnist-cnn-tiny", mo);
  const TaskData data = load_task_data("builtin:fmnist-cnn-tiny", 32, 300, 3);
  int calls = 0;
  EvalFn evaluate = [&](const Model& m) {
    if (++calls == 2) throw Error("evaluator exploded");
    return data.evaluate(m);
  };
  CalibrationData calib;
  calib.batches = data.calibration.input_batches(16);
  TuningConfig config = parse_tuning_config(yaml(3), "t.yaml");
  AutotuneResult r = autotune(*model, config, evaluate, calib, quiet(dir.path()));
  ASSERT_EQ(r.summary.trials.size(), 3u);
  EXPECT_EQ(r.summary.trials[0].status, "FAILED");
  EXPECT_EQ(r.summary.trials[0].error, "evaluator exploded");
  EXPECT_FALSE(*r.summary.trials[0].passed);
  EXPECT_EQ(r.summary.trials[1].status, "COMPLETED");
  ASSERT_TRUE(r.summary.best);
  ASSERT_TRUE(r.best_model);
  EXPECT_EQ(data.evaluate(*r.best_model).value, *r.summary.best->accuracy);
  // The user's model is untouched: every layer still fp32.
  for (const LayerSlot* l : static_cast<const Model&>(*model).layers())
    EXPECT_FALSE(l->quantized());
}

// Calls: 1 baseline, 2 the trial, 3 re-materializing the best. A throw there
// escapes the run, which must be recorded FAILED, not left RUNNING.
TEST(Autotune, RunThatThrowsIsRecordedFailed) {
  TempDir dir;
  ModelOptions mo;
  mo.cache_dir = kCache;
  ModelPtr model = load_model("builtin:fmnist-cnn-tiny", mo);
  const TaskData data = load_task_data("builtin:fmnist-cnn-tiny", 32, 300, 3);
  int calls = 0;
  EvalFn evaluate = [&](const Model& m) {
    if (++calls == 3) throw Error("evaluator exploded");
    return data.evaluate(m);
  };
  CalibrationData calib;
  calib.batches = data.calibration.input_batches(16);
  EXPECT_THROW(
      autotune(*model, parse_tuning_config(yaml(1), "t.yaml"), evaluate, calib, quiet(dir.path())),
      Error);
  EXPECT_EQ(calls, 3);
  ResultsDb db(dir.path() / "results.db", ResultsDb::Mode::kReadOnly);
  const auto runs = db.runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "FAILED");
  EXPECT_FALSE(runs[0].ended_at.empty());
}

TEST(Autotune, NeedsACalibrationBatch) {
  TempDir dir;
  ModelOptions mo;
  mo.cache_dir = kCache;
  ModelPtr model = load_model("builtin:fmnist-cnn-tiny", mo);
  EXPECT_THROW(autotune(
                   *model, parse_tuning_config(yaml(1), "t.yaml"),
                   [](const Model&) { return EvalResult{}; }, CalibrationData{}, quiet(dir.path())),
               Error);
}

}  // namespace
}  // namespace qtune
