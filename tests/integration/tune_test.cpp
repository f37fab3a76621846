// The whole job through the binary: a tuning run single-process and under
// mpirun agree trial for trial; the saved best model reproduces its recorded
// accuracy; --resume after a killed run finishes without rerunning trials.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "backends/onednn/onednn_int8.h"
#include "tests/integration/run_command.h"

namespace qtune::testing {
namespace {

// Six trials on the tiny model; objective size makes the best trial a pure
// function of the recorded numbers (latency would make it depend on noise).
const char* kConfig = R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 1000}
search_space:
  - algorithm: rtn
    params:
      bits: [2, 4, 8]
      group_size: [32, -1]
constraints: {max_accuracy_loss: 0.02}
objective: size
strategy: exhaustive
max_trials: 10
seed: 7
latency: {batch: 16, runs: 20}
)";

std::map<std::string, double> accuracy_by_hash(const Json& trials) {
  std::map<std::string, double> out;
  for (const auto& t : trials)
    out[t["config_hash"].get<std::string>()] = t["accuracy"].get<double>();
  return out;
}

struct TuneOutcome {
  Json trials, best;
  std::filesystem::path out;
};

TuneOutcome tune(const std::string& name, int ranks) {
  auto dir = fresh_dir(name);
  write_file(dir / "tune.yaml", kConfig);
  const std::string args = "tune --config " + (dir / "tune.yaml").string() + " --out " +
                           (dir / "out").string() + cache_flag();
  auto r = run(ranks > 1 ? mpirun_qtune(ranks, args) : qtune(args));
  EXPECT_EQ(r.status, 0) << r.err;
  // The results table is printed at the end of a run, with its header columns.
  for (const char* column :
       {"trial", "algorithm", "parameters", "accuracy", "loss", "size", "status"})
    EXPECT_NE(r.out.find(column), std::string::npos) << column << " missing in:\n" << r.out;
  TuneOutcome o;
  o.out = dir / "out";
  const std::string db = " --db " + (o.out / "results.db").string();
  o.trials = run_json(qtune("db trials --json" + db));
  o.best = run_json(qtune("db best --json" + db));
  return o;
}

TEST(Tune, SingleProcessRecordsTrialsAndSavesReproducibleBest) {
  auto o = tune("single", 1);
  ASSERT_EQ(o.trials.size(), 6u);
  for (const auto& t : o.trials) {
    EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
    EXPECT_GT(t["latency_ms_p50"].get<double>(), 0.0);
    EXPECT_GT(t["size_bytes"].get<int64_t>(), 0);
  }
  ASSERT_TRUE(o.best.is_object()) << "the 8-bit trials must pass a 2% loss budget";
  EXPECT_TRUE(o.best["passed"].get<bool>());
  // Objective size: no passing trial is smaller than the best.
  for (const auto& t : o.trials)
    if (t["passed"].get<bool>())
      EXPECT_GE(t["size_bytes"].get<int64_t>(), o.best["size_bytes"].get<int64_t>());

  ASSERT_TRUE(std::filesystem::exists(o.out / "best" / "qconfig.json"));
  Json eval = run_json(qtune("eval --json --model " + (o.out / "best").string()));
  EXPECT_EQ(eval["metric"], "accuracy");
  EXPECT_EQ(eval["value"].get<double>(), o.best["accuracy"].get<double>())
      << "the saved best model must reproduce its recorded accuracy exactly";
}

TEST(Tune, MpiRunAgreesWithSingleProcess) {
  auto single = tune("cmp-single", 1);
  auto mpi = tune("cmp-mpi", 3);
  ASSERT_EQ(single.trials.size(), 6u);
  EXPECT_EQ(accuracy_by_hash(single.trials), accuracy_by_hash(mpi.trials));
  // Workers are ranks 1 and 2; rank 0 only coordinates.
  for (const auto& t : mpi.trials) EXPECT_GE(t["rank"].get<int>(), 1) << t.dump();
  ASSERT_TRUE(single.best.is_object());
  ASSERT_TRUE(mpi.best.is_object());
  EXPECT_EQ(single.best["config_hash"], mpi.best["config_hash"]);
  EXPECT_EQ(slurp(single.out / "best" / "model.safetensors"),
            slurp(mpi.out / "best" / "model.safetensors"))
      << "the same best model, byte for byte";
}

TEST(Tune, ResumeAfterKillSkipsFinishedTrials) {
  auto dir = fresh_dir("resume");
  // Many latency runs make each trial take long enough to kill the run midway.
  std::string cfg = kConfig;
  cfg.replace(cfg.find("runs: 20"), 8, "runs: 400");
  write_file(dir / "tune.yaml", cfg);
  const auto out = dir / "out";
  const std::string args =
      "tune --config " + (dir / "tune.yaml").string() + " --out " + out.string() + cache_flag();
  const std::string db = " --db " + (out / "results.db").string();

  const std::string pidfile = (dir / "pid").string();
  ASSERT_EQ(std::system((qtune(args) + " >/dev/null 2>&1 & echo $! >" + pidfile).c_str()), 0);
  const std::string pid = slurp(pidfile);

  // Wait for two finished trials (WAL lets us read while it writes), then kill -9.
  // Rows handed out but not finished are RUNNING: those are the ones to redo.
  auto finished = [](const Json& trials) {
    Json out = Json::array();
    for (const auto& t : trials)
      if (t["status"] != "RUNNING") out.push_back(t);
    return out;
  };
  Json before;
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto r = run(qtune("db trials --json" + db));
    if (r.status != 0) continue;
    if (finished(Json::parse(r.out)).size() >= 2) break;
  }
  ASSERT_EQ(std::system(("kill -9 " + pid).c_str()), 0)
      << "the run ended before it could be killed";
  before = finished(run_json(qtune("db trials --json" + db)));
  ASSERT_GE(before.size(), 2u);
  ASSERT_LT(before.size(), 6u) << "the run finished before the kill: the test proves nothing";

  Json resumed = run_json(qtune(args + " --resume --json"));
  // The resumed run says what it skipped, and ran only the rest.
  EXPECT_EQ(resumed["trials_skipped"].get<size_t>(), before.size());
  EXPECT_EQ(resumed["trials_run"].get<size_t>(), 6u - before.size());
  Json after = run_json(qtune("db trials --json" + db));
  ASSERT_EQ(after.size(), 6u);
  for (const auto& t : after) EXPECT_EQ(t["status"], "COMPLETED") << t.dump();
  // Finished trials were not run again: same row, same start time.
  for (const auto& b : before) {
    bool found = false;
    for (const auto& a : after)
      if (a["config_hash"] == b["config_hash"]) {
        found = true;
        EXPECT_EQ(a["started_at"], b["started_at"]) << "trial rerun: " << a.dump();
        EXPECT_EQ(a["id"], b["id"]);
      }
    EXPECT_TRUE(found);
  }
  Json runs = run_json(qtune("db runs --json" + db));
  EXPECT_EQ(runs.size(), 1u) << "resume continues the run instead of starting another";
}

// The int8 backend is a tunable dimension: each method runs on each backend
// named in the config, the backend is recorded with the trial (and each
// layer's reason in its metrics), and the backends, doing the same integer
// arithmetic, agree on accuracy. native and eager run on every CPU (and agree
// exactly: native is bit-identical to the reference); onednn and torch join
// where the CPU has int8 dot products.
TEST(Tune, Int8BackendIsATunableDimension) {
  std::vector<std::string> backends{"native", "eager"};
  std::string reason;
  if (onednn_int8_accelerated(&reason)) backends.insert(backends.end(), {"onednn", "torch"});
  std::string list;
  for (const std::string& b : backends) list += (list.empty() ? "" : ", ") + b;
  auto dir = fresh_dir("int8-backends");
  write_file(dir / "tune.yaml", R"(model: builtin:fmnist-cnn-tiny
calibration: {samples: 64}
evaluation: {samples: 1000}
search_space:
  - algorithm: static
    backend: [)" + list + R"(]
  - algorithm: dynamic
    backend: [)" + list + R"(]
constraints: {max_accuracy_loss: 0.02}
objective: size
max_trials: 10
latency: {batch: 16, runs: 20}
)");
  const auto out = dir / "out";
  auto r = run(qtune("tune --config " + (dir / "tune.yaml").string() + " --out " + out.string() +
                     cache_flag()));
  ASSERT_EQ(r.status, 0) << r.err;
  const Json trials = run_json(qtune("db trials --json --db " + (out / "results.db").string()));
  ASSERT_EQ(trials.size(), 2 * backends.size());
  std::map<std::string, std::map<std::string, double>> accuracy;  // algorithm -> backend -> top-1
  for (const auto& t : trials) {
    ASSERT_EQ(t["status"], "COMPLETED") << t.dump();
    const std::string backend = t["backend"].get<std::string>();
    accuracy[t["algorithm"].get<std::string>()][backend] = t["accuracy"].get<double>();
    for (const auto& layer : t["metrics"]["layers"])
      if (layer["quantized"].get<bool>()) EXPECT_EQ(layer["backend"], backend) << t.dump();
  }
  for (const char* algorithm : {"static", "dynamic"}) {
    ASSERT_EQ(accuracy[algorithm].size(), backends.size()) << algorithm;
    EXPECT_EQ(accuracy[algorithm]["native"], accuracy[algorithm]["eager"]) << algorithm;
    // Same integer products; only fp32 rounding of the rescaling differs, which
    // may flip an image or two of the 1000.
    for (const std::string& b : backends)
      EXPECT_NEAR(accuracy[algorithm][b], accuracy[algorithm]["eager"], 0.002)
          << algorithm << " on " << b;
  }
  // The winner reloads on its recorded backend and reproduces its accuracy.
  const Json best = run_json(qtune("db best --json --db " + (out / "results.db").string()));
  ASSERT_TRUE(best.is_object());
  Json eval = run_json(qtune("eval --json --model " + (out / "best").string()));
  EXPECT_EQ(eval["value"].get<double>(), best["accuracy"].get<double>());
}

}  // namespace
}  // namespace qtune::testing
