// Weight-only building blocks side by side in one run: quantizing and packing
// a large weight, and a quantized Linear on the eager backend against fp32
// ATen on the same shapes (the ratio is what matters; eager dequantizes on
// every call, which native kernels will remove).
//
//   ./build/bench_weight_only --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "backends/backend_list.h"
#include "common/malloc_tuning.h"
#include "quant/packing.h"
#include "quant/quantize.h"
#include "quant/quantized_weight.h"

namespace {

// Measure what the qtune binary runs: it keeps freed tensor memory (cli/main.cpp).
const bool kMallocTuned = (qtune::keep_freed_tensor_memory(), true);

at::Tensor weight(int64_t n, int64_t k) {
  at::manual_seed(0);
  return at::randn({n, k});
}

qtune::QuantSpec spec4() {
  qtune::QuantSpec s;
  s.bits = 4;
  s.group_size = 32;
  return s;
}

void BM_QuantizeAndPack(benchmark::State& state) {
  const int64_t n = state.range(0);
  const at::Tensor w = weight(n, n);
  for (auto _ : state) {
    auto q = qtune::QuantizedWeight::from_float(w, spec4());
    benchmark::DoNotOptimize(q.packed.data_ptr());
  }
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(n * n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_QuantizeAndPack)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);

void BM_Unpack(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto q = qtune::QuantizedWeight::from_float(weight(n, n), spec4());
  for (auto _ : state) {
    auto codes = qtune::unpack_rows(q.packed, 4, n);
    benchmark::DoNotOptimize(codes.data_ptr());
  }
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(q.packed.nbytes()),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Unpack)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);

// Linear [M, K] x [N, K]^T with K = N = 4096: fp32 ATen vs eager int4 g32.
void BM_LinearFp32(benchmark::State& state) {
  const int64_t m = state.range(0), n = 4096;
  const at::Tensor w = weight(n, n), x = at::randn({m, n});
  auto kernel = qtune::make_fp32_kernel(qtune::LayerKind::kLinear, w, std::nullopt);
  for (auto _ : state) benchmark::DoNotOptimize(kernel->forward(x).data_ptr());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LinearFp32)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond);

void BM_LinearEagerInt4(benchmark::State& state) {
  const int64_t m = state.range(0), n = 4096;
  const at::Tensor x = at::randn({m, n});
  auto q = qtune::QuantizedWeight::from_float(weight(n, n), spec4());
  auto kernel =
      qtune::backend_by_name("eager").make_kernel(qtune::LayerKind::kLinear, q, std::nullopt, {});
  for (auto _ : state) benchmark::DoNotOptimize(kernel->forward(x).data_ptr());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LinearEagerInt4)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
