// Native weight-only kernels against fp32, side by side in one run (issue 10):
// Linear y[M, N] = x[M, K] · Wᵀ with W 4096 x 4096 and 4096 outputs x 14336
// inputs, M in {1, 4, 32, 128, 512}, on
//  - fp32 ATen (qtune's fp32 Linear: at::mv at M = 1, at::linear above; OpenBLAS) and fp32 oneDNN
//  (matmul on its own
//    blocked weights): the baselines;
//  - the native LayerKernel (what `auto` runs: its path chosen per M) for
//    int4 g32/g128 sym/asym, int3 g128, int2 g128, int8 per channel sym/asym;
//  - each inner path forced (int8-act, fma, dequant+gemm) for int4 g32 sym
//    and int8 sym/asym, M also 16: the measurement behind native::choose_path's
//    thresholds;
//  - a warm read of a buffer >= 4x the last-level cache with the same threads:
//    the machine's read bandwidth, next to each native run's weight traffic.
// Counters: GB/s = PackedWeight::stream_bytes (fp32: 4 N K) per second;
// of_read_bw = that / the measured read bandwidth; x_vs_best_fp32 = best fp32
// time / own time (same shape and M; both need their benchmarks in the filter).
//
// ATen may start with one intra-op thread here: OMP_NUM_THREADS=2 gives the
// issue's 2 threads to ATen, oneDNN and the read benchmark alike.
//   OMP_NUM_THREADS=2 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
//       ./build/bench/suites/bench_native --benchmark_filter='ReadBandwidth|/14336/1/' \
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <cpuid.h>
#include <immintrin.h>

#include <chrono>
#include <cmath>
#include <iterator>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>

#include "backends/layer_kernel.h"
#include "backends/native/native_kernel.h"
#include "backends/native/repack.h"
#include "backends/native/woq_decode.h"
#include "common/malloc_tuning.h"

namespace {

// Measure what the qtune binary runs: it keeps freed tensor memory (cli/main.cpp).
const bool kMallocTuned = (qtune::keep_freed_tensor_memory(), true);

using Clock = std::chrono::steady_clock;
namespace nat = qtune::native;

constexpr int64_t kN = 4096;

std::map<std::string, double>& seconds_per_iter() {
  static std::map<std::string, double> m;
  return m;
}

template <typename F>
void timed(benchmark::State& state, const std::string& name, F body) {
  const auto t0 = Clock::now();
  for (auto _ : state) body();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (state.iterations() > 0) seconds_per_iter()[name] = s / state.iterations();
}

std::string key(const std::string& what, int64_t k, int64_t m) {
  return what + "/" + std::to_string(k) + "/" + std::to_string(m);
}

double read_bandwidth_gbs();

void counters(benchmark::State& state, const std::string& self, int64_t k, int64_t m,
              int64_t weight_bytes) {
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(weight_bytes) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * kN * k / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  const auto& t = seconds_per_iter();
  auto own = t.find(self);
  if (own == t.end()) return;
  state.counters["of_read_bw"] = weight_bytes / 1e9 / own->second / read_bandwidth_gbs();
  double best = 0;
  for (const char* f : {"aten", "onednn"}) {
    auto it = t.find(key(f, k, m));
    if (it != t.end() && (best == 0 || it->second < best)) best = it->second;
  }
  if (best > 0) state.counters["x_vs_best_fp32"] = best / own->second;
}

const at::Tensor& weight(int64_t k) {
  static std::map<int64_t, at::Tensor> cache;
  auto it = cache.find(k);
  if (it == cache.end()) {
    at::manual_seed(static_cast<uint64_t>(k));
    it = cache.emplace(k, at::randn({kN, k}) * 0.02).first;
  }
  return it->second;
}

at::Tensor input(int64_t m, int64_t k) {
  at::manual_seed(1);
  return at::randn({m, k});
}

// ---- the machine's read bandwidth ----

/// Last-level cache bytes from CPUID 0x80000006 (AMD: EDX[31:18] in 512 KB
/// units) or leaf 4 (Intel); 0 when unknown.
int64_t last_level_cache_bytes() {
  unsigned a, b, c, d;
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000006 &&
      __get_cpuid(0x80000006, &a, &b, &c, &d) && (d >> 18) != 0)
    return static_cast<int64_t>(d >> 18) * 512 * 1024;
  int64_t best = 0;
  for (unsigned i = 0; i < 8; ++i) {
    __cpuid_count(4, i, a, b, c, d);
    if ((a & 0x1F) == 0) break;
    const int64_t ways = ((b >> 22) & 0x3FF) + 1, parts = ((b >> 12) & 0x3FF) + 1,
                  line = (b & 0xFFF) + 1, sets = static_cast<int64_t>(c) + 1;
    best = std::max(best, ways * parts * line * sets);
  }
  return best;
}

__attribute__((target("avx2"))) float sum_avx2(const float* p, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t i = 0; i + 32 <= n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  float s = 0;
  for (float v : out) s += v;
  return s;
}

/// A warm read of an initialised buffer of max(256 MB, 4x the last-level
/// cache), split over the intra-op threads, each summing its part with AVX2 loads.
struct ReadBuffer {
  int64_t llc = last_level_cache_bytes();
  int64_t bytes = std::max<int64_t>(int64_t{256} << 20, 4 * llc);
  at::Tensor buf = at::ones({bytes / 4});  // 64-byte aligned by ATen's allocator
  int threads = at::get_num_threads();
  int64_t chunk = (bytes / 4 / threads) / 32 * 32;
  std::vector<float> sums = std::vector<float>(threads);

  double bytes_read() const { return static_cast<double>(chunk) * threads * 4; }
  void read() {
    const float* p = buf.data_ptr<float>();
    at::parallel_for(0, threads, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) sums[t] = sum_avx2(p + t * chunk, chunk);
    });
    benchmark::DoNotOptimize(sums.data());
  }
};

ReadBuffer& read_buffer() {
  static ReadBuffer b;
  return b;
}

/// GB/s of the best of 5 warm reads, measured once: every native benchmark's
/// of_read_bw divides by the same number whatever order the benchmarks run in.
double read_bandwidth_gbs() {
  static const double gbs = [] {
    ReadBuffer& b = read_buffer();
    b.read();
    double best = 1e30;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = Clock::now();
      b.read();
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return b.bytes_read() / 1e9 / best;
  }();
  return gbs;
}

void BM_ReadBandwidth(benchmark::State& state) {
  ReadBuffer& b = read_buffer();
  b.read();
  timed(state, "read", [&] { b.read(); });
  state.counters["GB/s"] =
      benchmark::Counter(b.bytes_read() / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["buffer_MB"] = static_cast<double>(b.bytes >> 20);
  state.counters["llc_MB"] = static_cast<double>(b.llc) / (1 << 20);
  state.counters["threads"] = b.threads;
  // The buffer holds ones: each part sums to its length (no read was skipped).
  for (float s : b.sums)
    if (std::fabs(s - b.chunk) > 1e-6 * b.chunk) state.SkipWithError("read buffer sum is wrong");
}
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- fp32 baselines ----

void BM_Fp32Aten(benchmark::State& state) {
  const int64_t k = state.range(0), m = state.range(1);
  const at::Tensor x = input(m, k);
  const at::Tensor& w = weight(k);
  const std::string self = key("aten", k, m);
  // qtune's fp32 Linear (at::mv at M = 1, at::linear otherwise): the baseline
  // a user's fp32 model runs on.
  const qtune::LayerKernelPtr fp32 = qtune::make_fp32_kernel(qtune::LayerKind::kLinear, w, {}, {});
  timed(state, self, [&] { benchmark::DoNotOptimize(fp32->forward(x).data_ptr()); });
  counters(state, self, k, m, kN * k * 4);
}

void BM_Fp32Onednn(benchmark::State& state) {
  using dnnl::memory;
  const int64_t k = state.range(0), m = state.range(1);
  const at::Tensor x = input(m, k);
  const at::Tensor& w = weight(k);  // [N, K] row-major = [K, N] in "ba"
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(eng);
  const memory::desc src({m, k}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc dst({m, kN}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc wany({k, kN}, memory::data_type::f32, memory::format_tag::any);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wany, dst), eng);
  memory user_w({{k, kN}, memory::data_type::f32, memory::format_tag::ba}, eng, w.data_ptr());
  memory blocked(pd.weights_desc(), eng);
  dnnl::reorder(user_w, blocked).execute(stream, user_w, blocked);
  stream.wait();
  dnnl::matmul prim(pd);
  at::Tensor y = at::zeros({m, kN});
  memory src_m(src, eng, x.data_ptr()), dst_m(dst, eng, y.data_ptr());
  const std::string self = key("onednn", k, m);
  timed(state, self, [&] {
    prim.execute(stream,
                 {{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, blocked}, {DNNL_ARG_DST, dst_m}});
    stream.wait();
  });
  state.SetLabel(pd.impl_info_str());
  counters(state, self, k, m, kN * k * 4);
}

// ---- native ----

struct Format {
  const char* name;
  int bits;
  qtune::Scheme scheme;
  int64_t group;  // -1: per channel
};
const Format kFormats[] = {
    {"int4_g32_sym", 4, qtune::Scheme::kSym, 32},
    {"int4_g32_asym", 4, qtune::Scheme::kAsym, 32},
    {"int4_g128_sym", 4, qtune::Scheme::kSym, 128},
    {"int4_g128_asym", 4, qtune::Scheme::kAsym, 128},
    {"int3_g128_sym", 3, qtune::Scheme::kSym, 128},
    {"int2_g128_asym", 2, qtune::Scheme::kAsym, 128},
    {"int8_pc_sym", 8, qtune::Scheme::kSym, -1},
    {"int8_pc_asym", 8, qtune::Scheme::kAsym, -1},
};

qtune::QuantSpec spec_of(const Format& f) {
  qtune::QuantSpec s;
  s.bits = f.bits;
  s.scheme = f.scheme;
  if (f.group < 0)
    s.granularity = qtune::Granularity::kPerChannel;
  else
    s.group_size = f.group;
  return s;
}

/// The native layer and its packed weight for format f and K = k, built once.
struct NativeLayer {
  qtune::LayerKernelPtr kernel;
  nat::PackedWeight packed;
};
const NativeLayer& native_layer(int f, int64_t k) {
  static std::map<std::pair<int, int64_t>, std::unique_ptr<NativeLayer>> cache;
  auto& slot = cache[{f, k}];
  if (!slot) {
    const qtune::QuantizedWeight q =
        qtune::QuantizedWeight::from_float(weight(k), spec_of(kFormats[f]));
    slot = std::make_unique<NativeLayer>();
    slot->packed = nat::repack(q);
    slot->kernel = qtune::make_native_kernel(qtune::LayerKind::kLinear, q, std::nullopt, {});
  }
  return *slot;
}

// Args: format index, K, M.
void BM_Native(benchmark::State& state) {
  const int f = static_cast<int>(state.range(0));
  const int64_t k = state.range(1), m = state.range(2);
  const NativeLayer& l = native_layer(f, k);
  const at::Tensor x = input(m, k);
  l.kernel->forward(x);  // grows the reused buffers outside the timing
  const std::string self = key(std::string("native_") + kFormats[f].name, k, m);
  timed(state, self, [&] { benchmark::DoNotOptimize(l.kernel->forward(x).data_ptr()); });
  state.SetLabel(std::string(kFormats[f].name) + " " + l.kernel->backend_detail());
  counters(state, self, k, m, l.packed.stream_bytes());
}

// Args: format index, K, M, path (0 int8-act, 1 fma, 2 dequant+gemm). The
// layer's own loop (prepare once, rows in 64-row chunks over the intra-op
// threads; or decode in 64-row chunks, then at::linear), path forced.
void BM_NativePath(benchmark::State& state) {
  const int f = static_cast<int>(state.range(0));
  const int64_t k = state.range(1), m = state.range(2);
  const nat::Path path = state.range(3) == 0   ? nat::Path::kInt8Activations
                         : state.range(3) == 1 ? nat::Path::kFloat
                                               : nat::Path::kDequantized;
  const NativeLayer& l = native_layer(f, k);
  const nat::IsaKernels& kern = nat::kernels_for(nat::active_isa());
  const at::Tensor x = input(m, k);
  at::Tensor y = at::empty({m, kN});
  nat::PreparedActivations a;
  const nat::PackedWeight& w = l.packed;
  auto body = [&] {
    if (path == nat::Path::kDequantized) {
      at::Tensor dw = at::empty({kN, k});
      at::parallel_for(0, kN / 64, 1, [&](int64_t c0, int64_t c1) {
        nat::decode_rows(w, c0 * 64, c1 * 64, dw.data_ptr<float>() + c0 * 64 * k);
      });
      benchmark::DoNotOptimize(at::linear(x, dw).data_ptr());
      return;
    }
    kern.prepare(w, x.data_ptr<float>(), m, k, path, &a);
    at::parallel_for(0, kN / 64, 1, [&](int64_t c0, int64_t c1) {
      kern.gemm_rows(w, a, path, nullptr, y.data_ptr<float>(), kN, c0 * 64, c1 * 64);
    });
    benchmark::DoNotOptimize(y.data_ptr());
  };
  body();
  const std::string self =
      key(std::string("path_") + kFormats[f].name + "_" + nat::to_string(path), k, m);
  timed(state, self, body);
  state.SetLabel(std::string(kFormats[f].name) + " " + nat::to_string(nat::active_isa()) + "/" +
                 nat::to_string(path));
  counters(state, self, k, m, w.stream_bytes());
}

const int64_t kMs[] = {1, 4, 32, 128, 512};
// The path comparison adds M = 16, where asym int8 changes path.
const int64_t kPathMs[] = {1, 4, 16, 32, 128, 512};
const int64_t kKs[] = {4096, 14336};

void fp32_args(benchmark::internal::Benchmark* b) {
  for (int64_t k : kKs)
    for (int64_t m : kMs) b->Args({k, m});
}
void native_args(benchmark::internal::Benchmark* b) {
  for (int f = 0; f < static_cast<int>(std::size(kFormats)); ++f)
    for (int64_t k : kKs)
      for (int64_t m : kMs) b->Args({f, k, m});
}
void path_args(benchmark::internal::Benchmark* b) {
  for (int f : {0, 6, 7})  // int4 g32 sym, int8 per channel sym and asym
    for (int64_t k : kKs)
      for (int64_t m : kPathMs)
        for (int p : {0, 1, 2}) b->Args({f, k, m, p});
}

BENCHMARK(BM_Fp32Aten)->Apply(fp32_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Fp32Onednn)->Apply(fp32_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Native)->Apply(native_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_NativePath)->Apply(path_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
