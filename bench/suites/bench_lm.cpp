// Whole-model language-model speed on builtin:llama-1b-shape (TinyLlama-1.1B's
// shapes, random weights): prefill and decode tokens/s, batch 1, fp32 against
// weight-only variants in one process so their ratios are measured side by
// side. Each variant is quantized once per process, on first use (RTN takes
// a minute or two, GPTQ several: filter to what you need).
//
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench_lm \
//     --benchmark_filter='Decode' --benchmark_min_time=5 --benchmark_repetitions=3 \
//     --benchmark_enable_random_interleaving=true
//
// Benchmarks: Prefill/<variant>/<prompt tokens> (one forward of the prompt
// from an empty KV cache; 128 and 512) and Decode/<variant> (one new token
// against a KV cache of 128..191 positions; refilled untimed). Counter
// tokens_per_s; the label names each layer kind's backends.
// QTUNE_BENCH_CACHE_DIR: where the model is built and cached (default: qtune's cache);
// QTUNE_BENCH_THREADS: intra-op threads (default: every core).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "bench/llama_speed.h"
#include "common/malloc_tuning.h"
#include "models/builtin.h"
#include "models/llama/llama_model.h"
#include "quantizers/quantizer.h"

namespace {

using qtune::LlamaModel;

// Measure what the qtune binary runs: it keeps freed tensor memory (cli/main.cpp).
const bool kMallocTuned = (qtune::keep_freed_tensor_memory(), true);

constexpr const char* kSpec = "builtin:llama-1b-shape";
constexpr int64_t kDecodePrompt = 128;
constexpr int64_t kDecodeNew = 64;
constexpr int64_t kCalibrationWindows = 8;

std::filesystem::path cache_dir() {
  if (const char* d = std::getenv("QTUNE_BENCH_CACHE_DIR"); d && *d) return d;
  return qtune::default_cache_dir();
}

struct Variant {
  const char* name;
  const char* config;  ///< QuantConfig JSON; nullptr = fp32
};

const std::vector<Variant> kVariants = {
    {"fp32", nullptr},
    {"rtn_w4_g32", R"({"algorithm": "rtn", "params": {"bits": 4, "group_size": 32}})"},
    {"rtn_w4_g128", R"({"algorithm": "rtn", "params": {"bits": 4, "group_size": 128}})"},
    {"gptq_w4_g128_act_order",
     R"({"algorithm": "gptq", "params": {"bits": 4, "group_size": 128, "act_order": true}})"},
    {"rtn_w8_channel", R"({"algorithm": "rtn", "params": {"bits": 8, "group_size": -1}})"},
};

const qtune::TaskData& task_data() {
  static const qtune::TaskData data =
      qtune::load_task_data(kSpec, kCalibrationWindows, 8, 0, cache_dir());
  return data;
}

const LlamaModel& model(const Variant& v) {
  static std::map<std::string, std::unique_ptr<qtune::Model>> models;
  auto it = models.find(v.name);
  if (it != models.end()) return static_cast<const LlamaModel&>(*it->second);
  if (!models.count("fp32")) {
    qtune::ModelOptions o;
    o.cache_dir = cache_dir();
    o.progress = true;
    models.emplace("fp32", qtune::load_model(kSpec, o));
  }
  if (v.config) {
    std::fprintf(stderr, "bench_lm: quantizing %s %s\n", kSpec, v.name);
    std::unique_ptr<qtune::Model> m = models.at("fp32")->clone();
    qtune::CalibrationData calibration;
    calibration.batches = task_data().calibration.input_batches(kCalibrationWindows);
    qtune::quantize(*m, qtune::QuantConfig::from_json(qtune::Json::parse(v.config), v.name),
                    calibration);
    models.emplace(v.name, std::move(m));
  }
  return static_cast<const LlamaModel&>(*models.at(v.name));
}

std::vector<int64_t> text(int64_t count) {
  const at::Tensor ids = task_data().evaluation.inputs.contiguous().view(-1);
  return qtune::repeat_tokens(
      std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel()), count);
}

at::Tensor as_ids(const std::vector<int64_t>& t) { return at::tensor(t, at::kLong).unsqueeze(0); }

/// "Linear: eager, fp32": which backends run the layers (lm_head stays fp32).
std::string backends_label(const LlamaModel& m) {
  std::map<std::string, std::set<std::string>> by_kind;
  for (const qtune::LayerSlot* s : const_cast<LlamaModel&>(m).layers())
    by_kind[qtune::to_string(s->kind())].insert(s->kernel()->backend());
  std::string out;
  for (const auto& [kind, names] : by_kind) {
    out += kind + ":";
    for (const auto& n : names) out += " " + n;
  }
  return out;
}

void BM_Prefill(benchmark::State& state, const Variant* v) {
  const LlamaModel& m = model(*v);
  const int64_t tokens = state.range(0);
  const at::Tensor ids = as_ids(text(tokens));
  at::NoGradGuard no_grad;
  for (auto _ : state) {
    qtune::LlamaKvCache cache;
    benchmark::DoNotOptimize(m.forward_cached(ids, cache).data_ptr());
  }
  state.counters["tokens_per_s"] = benchmark::Counter(
      static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = at::get_num_threads();
  state.SetLabel(backends_label(m));
}

void BM_Decode(benchmark::State& state, const Variant* v) {
  const LlamaModel& m = model(*v);
  const std::vector<int64_t> all = text(kDecodePrompt + kDecodeNew);
  const at::Tensor prompt = as_ids({all.begin(), all.begin() + kDecodePrompt});
  at::NoGradGuard no_grad;
  qtune::LlamaKvCache cache;
  (void)m.forward_cached(prompt, cache);
  int64_t step = 0;
  for (auto _ : state) {
    if (step == kDecodeNew) {
      state.PauseTiming();
      cache.clear();
      (void)m.forward_cached(prompt, cache);
      step = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(
        m.forward_cached(as_ids({all[kDecodePrompt + step]}), cache).data_ptr());
    ++step;
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = at::get_num_threads();
  state.SetLabel(backends_label(m));
}

}  // namespace

int main(int argc, char** argv) {
  // Every core, as `qtune bench` uses by default (ATen's own default came out
  // as 1 thread in this process); QTUNE_BENCH_THREADS=N sets another count
  // (one thread shows where the time goes without threads waiting on each other).
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const char* t = std::getenv("QTUNE_BENCH_THREADS"); t && std::atoi(t) > 0)
    threads = std::atoi(t);
  at::set_num_threads(threads);
  for (const Variant& v : kVariants) {
    benchmark::RegisterBenchmark((std::string("Prefill/") + v.name).c_str(), BM_Prefill, &v)
        ->Arg(128)
        ->Arg(512)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("Decode/") + v.name).c_str(), BM_Decode, &v)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
