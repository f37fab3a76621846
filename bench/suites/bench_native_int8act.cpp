// The native int8-activation path (llama.cpp's trick) on its issue-10 goal:
// int4 g32 GEMV, 4096 outputs x 14336 inputs, M = 1, 1 and 2 threads, next
// to a warm read of a buffer far larger than the last-level cache with the
// same threads (the machine's read bandwidth), so GB/s compare in one run.
//
//   ./build/bench_native_int8act --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <atomic>
#include <functional>
#include <thread>

#include "backends/native/repack.h"
#include "backends/native/woq_gemm.h"

namespace {

using qtune::native::Isa;
using qtune::native::Path;

/// Runs f(0) on the calling thread and f(1) on one persistent worker, so a
/// timed call pays no thread start (~tens of µs, the size of the result).
class TwoThreads {
 public:
  TwoThreads() : worker_([this] { loop(); }) {}
  ~TwoThreads() {
    stop_ = true;
    generation_.fetch_add(1);
    worker_.join();
  }
  void run(const std::function<void(int)>& f) {
    job_ = &f;
    done_.store(false);
    generation_.fetch_add(1, std::memory_order_release);
    f(0);
    while (!done_.load(std::memory_order_acquire)) {
    }
  }

 private:
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      while (generation_.load(std::memory_order_acquire) == seen) {
      }
      seen = generation_.load();
      if (stop_) return;
      (*job_)(1);
      done_.store(true, std::memory_order_release);
    }
  }
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> done_{true};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* job_ = nullptr;
  std::thread worker_;
};

TwoThreads& pool() {
  static TwoThreads p;
  return p;
}

const qtune::native::PackedWeight& int4_g32(int64_t n, int64_t k) {
  static std::map<std::pair<int64_t, int64_t>, qtune::native::PackedWeight> cache;
  auto it = cache.find({n, k});
  if (it == cache.end()) {
    at::manual_seed(0);
    qtune::QuantSpec s;
    s.bits = 4;
    s.group_size = 32;
    it = cache
             .emplace(
                 std::make_pair(n, k),
                 qtune::native::repack(qtune::QuantizedWeight::from_float(at::randn({n, k}), s)))
             .first;
  }
  return it->second;
}

// args: N, K, M, threads, isa (0 ref, 1 avx2, 2 avx512)
void BM_Int8Act(benchmark::State& state) {
  const int64_t n = state.range(0), k = state.range(1), m = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const Isa isa = static_cast<Isa>(state.range(4));
  if (isa > qtune::native::detect_cpu_isa()) {
    state.SkipWithError("ISA not available on this CPU");
    return;
  }
  const auto& kern = qtune::native::kernels_for(isa);
  const auto& w = int4_g32(n, k);
  at::manual_seed(1);
  const at::Tensor x = at::randn({m, k});
  std::vector<float> y(m * n);
  qtune::native::PreparedActivations a;
  const std::function<void(int)> half = [&](int t) {
    const int64_t mid = n / 2 / 16 * 16;
    kern.gemm_rows(w, a, Path::kInt8Activations, nullptr, y.data(), n, t == 0 ? 0 : mid,
                   t == 0 ? mid : n);
  };
  for (auto _ : state) {
    kern.prepare(w, x.data_ptr<float>(), m, k, Path::kInt8Activations, &a);
    if (threads == 2)
      pool().run(half);
    else
      kern.gemm_rows(w, a, Path::kInt8Activations, nullptr, y.data(), n, 0, n);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GB/s"] = benchmark::Counter(static_cast<double>(w.stream_bytes()) * 1e-9,
                                                     benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(qtune::native::to_string(isa));
}
BENCHMARK(BM_Int8Act)
    ->ArgNames({"N", "K", "M", "threads", "isa"})
    ->ArgsProduct({{4096}, {14336}, {1}, {1, 2}, {1, 2}})
    ->ArgsProduct({{4096}, {4096}, {1, 4, 32, 128}, {2}, {2}})
    ->Unit(benchmark::kMillisecond);

__attribute__((target("avx2"))) uint64_t read_sum(const uint64_t* p, int64_t n) {
  // Four independent sums keep several loads in flight.
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t i = 0; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

// A warm read of 1 GiB (far beyond any last-level cache here), split in halves.
void BM_ReadBandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t words = (int64_t{1} << 30) / 8;
  static std::vector<uint64_t> buf(words, 1);
  uint64_t sums[2] = {0, 0};
  const std::function<void(int)> half = [&](int t) {
    sums[t] += read_sum(buf.data() + t * words / 2, words / 2);
  };
  for (auto _ : state) {
    if (threads == 2)
      pool().run(half);
    else
      sums[0] += read_sum(buf.data(), words);
    benchmark::DoNotOptimize(sums);
  }
  state.counters["read_GB/s"] = benchmark::Counter(static_cast<double>(words * 8) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ReadBandwidth)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
