// One tiny-lm trial (RTN W4 g128 sym: quantize, perplexity of 64 held-out
// windows of 256 tokens, decode latency) on 1 and on 2 threads, through
// TrialRunner as a worker runs it without isolation. Goal: 2 threads at
// least 1.7x faster than 1, with the same recorded perplexity (an iteration
// whose number differs from the 1-thread one fails the benchmark). Run
// interleaved, so that both see the same load:
//
//   build/bench_trial_threads --benchmark_enable_random_interleaving=true \
//       --benchmark_repetitions=6 --benchmark_report_aggregates_only=true
//
// tiny-lm comes from the cache (XDG_CACHE_HOME/qtune, else ~/.cache/qtune),
// trained there first if missing (tens of minutes).
#include <benchmark/benchmark.h>

#include <memory>
#include <optional>
#include <string>

#include "common/malloc_tuning.h"
#include "models/builtin.h"
#include "tuner/trial_runner.h"
#include "tuner/tuning_config.h"

namespace {

// Measure what the qtune binary runs: it keeps freed tensor memory (cli/main.cpp).
const bool kMallocTuned = (qtune::keep_freed_tensor_memory(), true);

const char* kConfig = R"(model: builtin:tiny-lm
calibration: {samples: 32}
evaluation: {samples: 64}
search_space:
  - algorithm: rtn
    params: {bits: 4, group_size: 128, scheme: sym}
)";

const qtune::TuningConfig& config() {
  static const qtune::TuningConfig c = qtune::parse_tuning_config(kConfig, "bench_trial_threads");
  return c;
}

std::shared_ptr<qtune::Workload> workload() {
  static const auto w = qtune::load_spec_workload(config(), qtune::default_cache_dir());
  return w;
}

double run_trial(int threads) {
  qtune::TrialSettings s = qtune::trial_settings(config(), 0);
  s.threads = threads;
  qtune::TrialRunner runner([] { return workload(); }, s);
  const qtune::QuantConfig qc = qtune::expand_search_space(config()).front();
  const qtune::TrialResult r = runner.run(0, qc);
  if (r.status != "COMPLETED" || !r.accuracy) return -1;
  return *r.accuracy;
}

void BM_TinyLmRtnTrial(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  static const double one_thread = run_trial(1);
  for (auto _ : state) {
    const double value = run_trial(threads);
    if (value != one_thread) {
      state.SkipWithError("the perplexity differs from the 1-thread trial's");
      break;
    }
  }
  state.counters["perplexity"] = one_thread;
}
BENCHMARK(BM_TinyLmRtnTrial)
    ->Arg(1)
    ->Arg(2)
    ->ArgName("threads")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
