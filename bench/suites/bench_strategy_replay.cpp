// TPE against random search on a recorded exhaustive table (issue 13's goal:
// tpe needs <= 60% of the trials random needs to reach the exhaustive best,
// over 5 seeds each). bench/data/tiny_lm_space.csv is `qtune db trials --csv`
// of configs/tpe-space-tiny-lm.yaml run exhaustively: 108 configs of tiny-lm,
// objective size within 0.5% perplexity. Each strategy is driven by the
// coordinator's farm as in a real run (generations included), answered from
// the table (tuner/strategy_replay.h), and counted until it hands out a
// config as good as the exhaustive best. Counters: trials per seed, their
// mean, and tpe's mean over random's.
//
//   build/bench_strategy_replay                       # from the repository root
//   build/bench_strategy_replay --table=FILE          # another recorded table
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/error.h"
#include "tuner/strategy_replay.h"
#include "tuner/trials_csv.h"

namespace {

constexpr uint64_t kSeeds = 5;

std::string table_path = "bench/data/tiny_lm_space.csv";

const std::vector<qtune::TrialRecord>& table() {
  static const std::vector<qtune::TrialRecord> t = [] {
    std::ifstream in(table_path, std::ios::binary);
    QT_CHECK(in.good(), table_path,
             ": cannot read the recorded table (run from the repository root, or --table=FILE)");
    std::ostringstream text;
    text << in.rdbuf();
    return qtune::parse_trials_csv(text.str(), table_path);
  }();
  return t;
}

qtune::StrategyOptions options(uint64_t seed) {
  qtune::StrategyOptions o;
  o.seed = seed;
  o.objective = "size";  // the recorded run's objective
  o.max_trials = static_cast<int64_t>(table().size());
  return o;
}

// Mean trials to the best over seeds 1..kSeeds; per-seed counts as counters.
double mean_trials(benchmark::State& state, const std::string& strategy) {
  double sum = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const qtune::ReplayOutcome out = qtune::replay_until_best(strategy, table(), options(seed));
    QT_CHECK(out.trials_to_best > 0, "strategy ", strategy, " seed ", seed,
             " never reached the table's best");
    state.counters[strategy + "_seed" + std::to_string(seed)] =
        static_cast<double>(out.trials_to_best);
    sum += static_cast<double>(out.trials_to_best);
  }
  return sum / kSeeds;
}

void BM_TrialsToBest(benchmark::State& state, const char* strategy) {
  double mean = 0;
  for (auto _ : state) mean = mean_trials(state, strategy);
  state.counters["mean_trials"] = mean;
  state.counters["space"] = static_cast<double>(table().size());
  state.counters["best_configs"] =
      static_cast<double>(qtune::best_of_table(table(), "size").size());
}

void BM_TpeOverRandom(benchmark::State& state) {
  double ratio = 0;
  for (auto _ : state) ratio = mean_trials(state, "tpe") / mean_trials(state, "random");
  state.counters["tpe_over_random"] = ratio;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--table=", 8) == 0) {
      table_path = argv[i] + 8;
      for (int k = i; k + 1 < argc; ++k) argv[k] = argv[k + 1];
      --argc;
      --i;
    }
  benchmark::RegisterBenchmark("TrialsToBest/random", BM_TrialsToBest, "random")->Iterations(1);
  benchmark::RegisterBenchmark("TrialsToBest/tpe", BM_TrialsToBest, "tpe")->Iterations(1);
  benchmark::RegisterBenchmark("TpeOverRandom", BM_TpeOverRandom)->Iterations(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    benchmark::RunSpecifiedBenchmarks();
  } catch (const qtune::Error& e) {
    std::cerr << "bench_strategy_replay: " << e.what() << "\n";
    return 1;
  }
  benchmark::Shutdown();
  return 0;
}
