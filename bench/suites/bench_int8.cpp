// Int8 against fp32, side by side in one run (issue 5):
//  - Linear [M, 4096] x [4096, 4096]^T, M in {1, 32, 128}: fp32 ATen (at::linear),
//    fp32 oneDNN (matmul with its own blocked weights), int8 static u8 on the
//    onednn, native and torch backends (their whole forward: quantizing the
//    input, the int8 product, fp32 output). Counter x_vs_best_fp32 = best fp32
//    time / own time. A backend that refuses this CPU (onednn and torch without
//    VNNI) is skipped with its reason.
//  - builtin:fmnist-cnn at batch 256: fp32 (NCHW and channels-last, the best is
//    the baseline) against the model quantized by the "static" quantizer on each
//    backend; top1 (2048 test images) beside the speed. onednn runs the model's
//    forward (u8 codes passed between the layers) and, as "Unchained", the
//    layers one by one from fp32 to fp32.
//
//   OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= ./build/bench_int8 --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
// (ratios are computed from the benchmarks that ran before in the same process:
// keep the fp32 ones in the filter.)
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>

#include "backends/backend_list.h"
#include "common/malloc_tuning.h"
#include "models/builtin.h"
#include "quantizers/quantizer.h"

namespace {

// Measure what the qtune binary runs: it keeps freed tensor memory (cli/main.cpp).
const bool kMallocTuned = (qtune::keep_freed_tensor_memory(), true);

using Clock = std::chrono::steady_clock;

/// Seconds per iteration of each benchmark that ran, by name (the last repetition).
std::map<std::string, double>& seconds_per_iter() {
  static std::map<std::string, double> m;
  return m;
}

/// Runs `body` in the benchmark loop and records its time per iteration under `name`.
template <typename F>
void timed(benchmark::State& state, const std::string& name, F body) {
  const auto t0 = Clock::now();
  for (auto _ : state) body();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (state.iterations() > 0) seconds_per_iter()[name] = s / state.iterations();
}

/// best of the named fp32 runs / this run: > 1 means faster than fp32.
void ratio_counter(benchmark::State& state, const std::string& self,
                   const std::vector<std::string>& fp32) {
  double best = 0;
  for (const auto& n : fp32) {
    auto it = seconds_per_iter().find(n);
    if (it != seconds_per_iter().end() && (best == 0 || it->second < best)) best = it->second;
  }
  auto it = seconds_per_iter().find(self);
  if (best > 0 && it != seconds_per_iter().end())
    state.counters["x_vs_best_fp32"] = best / it->second;
}

constexpr int64_t kDim = 4096;

const at::Tensor& big_weight() {
  static const at::Tensor w = [] {
    at::manual_seed(0);
    return at::randn({kDim, kDim}) * 0.02;
  }();
  return w;
}

at::Tensor input(int64_t m) {
  at::manual_seed(1);
  return at::randn({m, kDim});
}

void gflops(benchmark::State& state, int64_t m) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * kDim * kDim / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

std::string key(const char* what, int64_t m) { return std::string(what) + "/" + std::to_string(m); }

void BM_LinearFp32Aten(benchmark::State& state) {
  const int64_t m = state.range(0);
  const at::Tensor x = input(m);
  const at::Tensor& w = big_weight();
  timed(state, key("aten", m), [&] { benchmark::DoNotOptimize(at::linear(x, w).data_ptr()); });
  gflops(state, m);
}

void BM_LinearFp32Onednn(benchmark::State& state) {
  using dnnl::memory;
  const int64_t m = state.range(0);
  const at::Tensor x = input(m);
  const at::Tensor& w = big_weight();  // [N, K] row-major = [K, N] in "ba"
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(eng);
  const memory::desc src({m, kDim}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc dst({m, kDim}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc wany({kDim, kDim}, memory::data_type::f32, memory::format_tag::any);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wany, dst), eng);
  memory user_w({{kDim, kDim}, memory::data_type::f32, memory::format_tag::ba}, eng, w.data_ptr());
  memory blocked(pd.weights_desc(), eng);
  dnnl::reorder(user_w, blocked).execute(stream, user_w, blocked);
  stream.wait();
  dnnl::matmul prim(pd);
  at::Tensor y = at::zeros({m, kDim});
  memory src_m(src, eng, x.data_ptr()), dst_m(dst, eng, y.data_ptr());
  timed(state, key("onednn_f32", m), [&] {
    prim.execute(stream,
                 {{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, blocked}, {DNNL_ARG_DST, dst_m}});
    stream.wait();
  });
  state.SetLabel(pd.impl_info_str());
  gflops(state, m);
}

void linear_int8(benchmark::State& state, const std::string& backend) {
  const int64_t m = state.range(0);
  const at::Tensor x = input(m);
  qtune::QuantSpec s;
  s.bits = 8;
  s.scheme = qtune::Scheme::kSym;
  s.granularity = qtune::Granularity::kPerChannel;
  qtune::ActivationQuant a;  // static u8: the range of this input
  a.scale = (x.max().item<float>() - x.min().item<float>()) / 255.0f;
  a.zero_point = static_cast<int32_t>(std::lround(-x.min().item<float>() / a.scale));
  qtune::Int8Layer layer{qtune::QuantizedWeight::from_float(big_weight(), s), a, std::nullopt};
  std::string why;
  if (!qtune::backend_by_name(backend).supports(qtune::LayerKind::kLinear, layer, &why)) {
    state.SkipWithError((backend + ": " + why).c_str());
    return;
  }
  const auto kernel =
      qtune::backend_by_name(backend).make_kernel(qtune::LayerKind::kLinear, layer, {});
  kernel->forward(x);  // creates the primitive outside the timing
  const std::string self = key(backend.c_str(), m);
  timed(state, self, [&] { benchmark::DoNotOptimize(kernel->forward(x).data_ptr()); });
  gflops(state, m);
  ratio_counter(state, self, {key("aten", m), key("onednn_f32", m)});
}
void BM_LinearInt8Onednn(benchmark::State& state) { linear_int8(state, "onednn"); }
void BM_LinearInt8Native(benchmark::State& state) { linear_int8(state, "native"); }
void BM_LinearInt8Torch(benchmark::State& state) { linear_int8(state, "torch"); }

BENCHMARK(BM_LinearFp32Aten)->Arg(1)->Arg(32)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearFp32Onednn)->Arg(1)->Arg(32)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearInt8Onednn)->Arg(1)->Arg(32)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearInt8Native)->Arg(1)->Arg(32)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearInt8Torch)->Arg(1)->Arg(32)->Arg(128)->Unit(benchmark::kMicrosecond);

// ---- end to end: builtin:fmnist-cnn, batch 256 ----

constexpr int64_t kBatch = 256;
const char* kModel = "builtin:fmnist-cnn";

const qtune::TaskData& task() {
  static const qtune::TaskData t = qtune::load_task_data(kModel, 512, 2048, 0);
  return t;
}

at::Tensor batch() { return task().evaluation.inputs.narrow(0, 0, kBatch).contiguous(); }

void model_counters(benchmark::State& state, const qtune::Model& model) {
  state.counters["top1"] = task().evaluate(model).value;
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(kBatch),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

void BM_FmnistFp32(benchmark::State& state) {
  const qtune::ModelPtr model = qtune::load_model(kModel);
  const bool channels_last = state.range(0) == 1;
  at::Tensor x = batch();
  if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  timed(state, channels_last ? "fmnist_fp32_cl" : "fmnist_fp32",
        [&] { benchmark::DoNotOptimize(model->forward(x).data_ptr()); });
  state.SetLabel(channels_last ? "channels-last input" : "NCHW input");
  model_counters(state, *model);
}
BENCHMARK(BM_FmnistFp32)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

/// The forward without the int8 codes chain: each layer from fp32 and back.
at::Tensor plain_forward(const qtune::Model& m, const at::Tensor& x) {
  const auto l = m.layers();
  at::Tensor h = at::max_pool2d(l[0]->forward_relu(x), {2, 2});
  h = at::max_pool2d(l[1]->forward_relu(h), {2, 2});
  h = l[2]->forward_relu(h.flatten(1));
  return (*l[3])(h);
}

/// `chained`: the model's own forward, which passes u8 codes between static
/// int8 layers (backends/int8_chain.h); otherwise plain_forward.
void fmnist_int8(benchmark::State& state, const std::string& backend, bool chained = true) {
  std::string why;
  qtune::QuantizedWeight probe;
  probe.spec.bits = 8;
  probe.shape = {1, 1};
  if (!qtune::backend_by_name(backend).supports(qtune::LayerKind::kLinear,
                                                qtune::Int8Layer{probe, {}, std::nullopt}, &why)) {
    state.SkipWithError((backend + ": " + why).c_str());
    return;
  }
  qtune::ModelPtr model = qtune::load_model(kModel);
  const qtune::QuantConfig config = qtune::QuantConfig::from_json(
      qtune::Json{{"algorithm", "static"}, {"backend", backend}}, "bench_int8");
  qtune::CalibrationData calibration;
  calibration.batches = task().calibration.input_batches(kBatch);
  const auto reports = qtune::quantizer_by_name("static").quantize(*model, config, calibration);
  std::string backends;
  for (const auto& r : reports) backends += (backends.empty() ? "" : ",") + r.backend;
  const at::Tensor x = batch();
  auto run = [&] { return chained ? model->forward(x) : plain_forward(*model, x); };
  run();  // primitives for this shape, outside the timing
  const std::string self = "fmnist_" + backend + (chained ? "" : "_unchained");
  timed(state, self, [&] { benchmark::DoNotOptimize(run().data_ptr()); });
  state.SetLabel(backends);
  model_counters(state, *model);
  ratio_counter(state, self, {"fmnist_fp32", "fmnist_fp32_cl"});
}
void BM_FmnistInt8StaticOnednn(benchmark::State& state) { fmnist_int8(state, "onednn"); }
void BM_FmnistInt8StaticNative(benchmark::State& state) { fmnist_int8(state, "native"); }
void BM_FmnistInt8StaticOnednnUnchained(benchmark::State& state) {
  fmnist_int8(state, "onednn", false);
}
void BM_FmnistInt8StaticNativeUnchained(benchmark::State& state) {
  fmnist_int8(state, "native", false);
}
void BM_FmnistInt8StaticTorch(benchmark::State& state) { fmnist_int8(state, "torch"); }
BENCHMARK(BM_FmnistInt8StaticOnednn)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FmnistInt8StaticOnednnUnchained)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FmnistInt8StaticNative)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FmnistInt8StaticNativeUnchained)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FmnistInt8StaticTorch)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
