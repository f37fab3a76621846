// What the coordinator pays to record a trial: the two commits of one trial
// (its RUNNING row when handed out, its result when it ends, as
// tuner/autotune.cpp writes them) through ResultsDb::record_trial, with each
// durability (storage/results_db.h): NORMAL, qtune's default, against FULL's
// fsync per commit. A trial row carries metrics like a real one (per-layer
// entries of a 4-layer model). Run interleaved so that both see the same load:
//
//   build/bench_results_db --benchmark_enable_random_interleaving=true \
//       --benchmark_repetitions=6 --benchmark_report_aggregates_only=true
//
// CPU time is the process's (the kernel's work in fsync is charged to it);
// the database lives in a fresh folder under TMPDIR (or /tmp): the disk the
// numbers are about.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "storage/results_db.h"

namespace {

namespace fs = std::filesystem;
using qtune::Json;
using qtune::ResultsDb;

qtune::TrialRecord trial_row(int64_t run_id, int64_t index, bool finished) {
  qtune::TrialRecord t;
  t.run_id = run_id;
  t.index = index;
  t.config = {{"algorithm", "rtn"}, {"params", {{"bits", 4}, {"group_size", 128 + index}}}};
  t.config_hash = "hash-" + std::to_string(index);
  t.algorithm = "rtn";
  t.backend = "native";
  t.status = finished ? "COMPLETED" : "RUNNING";
  t.rank = 1;
  t.host = "bench";
  t.started_at = "2026-12-02T13:00:00.000Z";
  if (finished) {
    t.ended_at = "2026-12-02T13:00:01.000Z";
    t.accuracy = 0.89;
    t.accuracy_loss = 0.004;
    t.latency_ms_p50 = 1.5;
    t.latency_ms_p90 = 1.7;
    t.size_bytes = 102400;
    t.passed = true;
    Json layers = Json::array();
    for (const char* name : {"conv1", "conv2", "fc1", "fc2"})
      layers.push_back({{"name", name}, {"quantized", true}, {"weights", 50000}, {"mse", 1e-4}});
    t.metrics = {{"layers", layers}, {"seconds", 1.0}, {"metric", "accuracy"}};
  }
  return t;
}

void BM_RecordTrial(benchmark::State& state) {
  const auto durability = static_cast<ResultsDb::Durability>(state.range(0));
  const fs::path dir = fs::temp_directory_path() /
                       ("qtune-bench-db-" + std::to_string(::getpid()) + "-" +
                        std::to_string(state.range(0)) + "-" + std::to_string(state.iterations()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    ResultsDb db(dir / "results.db", ResultsDb::Mode::kReadWrite, durability);
    qtune::RunRecord run;
    run.model = "builtin:fmnist-cnn-tiny";
    run.config = Json::object();
    run.config_hash = "bench";
    run.status = "RUNNING";
    run.started_at = "2026-12-02T13:00:00.000Z";
    const int64_t run_id = db.create_run(run);
    int64_t index = 0;
    for (auto _ : state) {
      db.record_trial(trial_row(run_id, index, false));
      db.record_trial(trial_row(run_id, index, true));
      ++index;
    }
  }
  fs::remove_all(dir);
  state.SetLabel(durability == ResultsDb::Durability::kOnDisk ? "FULL (fsync per commit)"
                                                              : "NORMAL (qtune's default)");
}
BENCHMARK(BM_RecordTrial)
    ->Arg(static_cast<int>(ResultsDb::Durability::kOsHasIt))
    ->Arg(static_cast<int>(ResultsDb::Durability::kOnDisk))
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
