// Chained int8 layers (int8_chain.h): a layer's u8 output codes against the
// definition (its own fp32 forward, ReLU, max_pool2d, quantize_activation with
// the next layer's parameters), exactly, on every backend with the capability;
// native's codes equal the eager reference's, and onednn's are within the
// stated bound of them, on random layers and on the real fmnist-cnn-tiny.
#include "backends/int8_chain.h"

#include <gtest/gtest.h>

#include "backends/backend_list.h"
#include "backends/eager/eager_int8.h"
#include "backends/onednn/onednn_int8.h"
#include "models/builtin.h"
#include "quantizers/quantizer.h"
#include "support/expect_error.h"

namespace qtune {
namespace {

constexpr uint64_t kSeed = 11;

Int8Layer make_layer(const at::Tensor& w, float x_scale, int32_t zp) {
  QuantSpec s;
  s.bits = 8;
  s.scheme = Scheme::kSym;
  s.granularity = Granularity::kPerChannel;
  ActivationQuant a;
  a.scale = x_scale;
  a.zero_point = zp;
  return Int8Layer{QuantizedWeight::from_float(w, s), a, at::randn({w.size(0)}) * 0.1};
}

/// Backends here whose kernels have the codes entries: eager and native
/// always (native on the ISA QTUNE_MAX_ISA leaves it), onednn where it runs.
std::vector<std::string> codes_backends(LayerKind kind, const Int8Layer& layer) {
  std::vector<std::string> names{"eager", "native"};
  std::string why;
  if (onednn_int8_supports(kind, layer, &why)) names.push_back("onednn");
  return names;
}

/// native's int8 outputs are eager's bit for bit (native_int8_kernel.h), so
/// are its codes; onednn's are within the bound below.

const Int8CodesKernel& codes_of(const LayerKernelPtr& k) {
  const Int8CodesKernel* c = codes_kernel(*k);
  EXPECT_NE(c, nullptr) << k->backend();
  return *c;
}

/// An fp32 input whose static quantization with `layer`'s parameters is `codes`:
/// (c - zp) * s comes back to c (its error is far below half a step).
at::Tensor fp32_of(const at::Tensor& codes, const Int8Layer& layer) {
  return (codes.to(at::kFloat) - layer.input.zero_point) * layer.input.scale;
}

/// The definition: quantize_activation(pool(act(forward(x)))).
at::Tensor unfused(const LayerKernel& k, const at::Tensor& x, const CodesOutput& out) {
  at::Tensor y = out.relu ? k.forward_relu(x) : k.forward(x);
  if (out.max_pool > 1) y = at::max_pool2d(y, {out.max_pool, out.max_pool});
  return quantize_activation(y, ActivationQParams{out.scale, out.zero_point}, false);
}

/// Codes spread over [0, 255] (so every zero point sees negative and positive inputs).
at::Tensor random_codes(std::vector<int64_t> shape, bool channels_last) {
  at::Tensor c = at::randint(0, 256, shape, at::kByte);
  return channels_last ? c.contiguous(at::MemoryFormat::ChannelsLast) : c;
}

struct Diff {
  int64_t differing = 0, total = 0, max_abs = 0;
  void add(const at::Tensor& a, const at::Tensor& b) {
    ASSERT_EQ(a.sizes(), b.sizes());
    const at::Tensor d = (a.to(at::kInt) - b.to(at::kInt)).abs();
    differing += d.ne(0).sum().item<int64_t>();
    total += d.numel();
    max_abs = std::max<int64_t>(max_abs, d.max().item<int64_t>());
  }
};

// The bound of a chain against the reference (measured on fmnist-cnn-tiny and
// random layers: a few codes per million differ, by one). A code moves only
// when the two backends' fp32 outputs, which differ in the last bits, straddle
// a rounding boundary of the next layer's step; a flip by more than one would
// need an fp32 error of a whole step.
constexpr double kMaxDifferingFraction = 1e-3;

void expect_within_bound(const Diff& d, const std::string& what) {
  ASSERT_GT(d.total, 0) << what;
  EXPECT_LE(d.max_abs, 1) << what;
  EXPECT_LE(static_cast<double>(d.differing), kMaxDifferingFraction * d.total)
      << what << ": " << d.differing << " of " << d.total << " codes differ";
}

void compare_to_eager(const std::string& backend, const at::Tensor& got,
                      const at::Tensor& eager_codes, const std::string& what, Diff* diff) {
  if (backend == "native")
    EXPECT_TRUE(at::equal(got, eager_codes)) << what;
  else
    diff->add(got, eager_codes);
}

struct ConvCase {
  int64_t in, out, k, stride, pad, pool;
};

TEST(Int8Chain, ConvCodesAreTheUnfusedForwardsCodes) {
  const std::vector<ConvCase> cases{{1, 16, 3, 1, 1, 2},  {16, 32, 3, 1, 1, 2},
                                    {3, 15, 3, 1, 1, 3},  {17, 17, 3, 2, 1, 1},
                                    {15, 65, 1, 1, 0, 2}, {16, 7, 3, 1, 0, 2}};
  at::manual_seed(kSeed);
  for (const ConvCase& cc : cases)
    for (int64_t batch : {1, 3, 64})
      for (bool relu : {false, true}) {
        ConvGeometry g;
        g.stride = {cc.stride, cc.stride};
        g.padding = {cc.pad, cc.pad};
        const Int8Layer layer = make_layer(at::randn({cc.out, cc.in, cc.k, cc.k}), 0.02f, 101);
        const CodesOutput out{0.05f, 37, relu, cc.pool};
        const at::Tensor codes = random_codes({batch, cc.in, 13, 11}, true);
        const at::Tensor x = fp32_of(codes, layer);
        const std::string what = "Conv2d " + std::to_string(cc.in) + "->" + std::to_string(cc.out) +
                                 " k" + std::to_string(cc.k) + " s" + std::to_string(cc.stride) +
                                 " pool " + std::to_string(cc.pool) + " batch " +
                                 std::to_string(batch) + (relu ? " relu" : "");
        Diff vs_eager;
        at::Tensor eager_codes;
        for (const std::string& b : codes_backends(LayerKind::kConv2d, layer)) {
          const LayerKernelPtr k = backend_by_name(b).make_kernel(LayerKind::kConv2d, layer, g);
          const at::Tensor got = codes_of(k).forward_codes(codes, out);
          const at::Tensor want = unfused(*k, x, out);
          ASSERT_EQ(got.scalar_type(), at::kByte);
          EXPECT_TRUE(at::equal(got, want)) << b << " " << what;
          EXPECT_GT(got.to(at::kInt).ne(out.zero_point).sum().item<int64_t>(), 0) << what;
          // Last layer of a chain: fp32 out, the forward's own output.
          EXPECT_TRUE(at::equal(codes_of(k).forward_from_codes(codes, relu),
                                relu ? k->forward_relu(x) : k->forward(x)))
              << b << " " << what;
          if (b == "eager")
            eager_codes = got;
          else
            compare_to_eager(b, got, eager_codes, what, &vs_eager);
        }
        if (vs_eager.total > 0) expect_within_bound(vs_eager, what);
        if (HasFailure()) return;
      }
}

TEST(Int8Chain, LinearCodesAreTheUnfusedForwardsCodes) {
  at::manual_seed(kSeed);
  // {C, H, W} of a 4-D input read as its flatten(1); C = in, H = W = 1 is a plain [M, in].
  const std::vector<std::vector<int64_t>> inputs{{1, 1, 1},  {17, 1, 1}, {64, 1, 1},
                                                 {32, 7, 7}, {3, 5, 3},  {16, 1, 4}};
  for (const auto& chw : inputs)
    for (int64_t out_dim : {1, 10, 17, 128})
      for (int64_t batch : {1, 3, 64}) {
        const int64_t in = chw[0] * chw[1] * chw[2];
        const Int8Layer layer = make_layer(at::randn({out_dim, in}), 0.03f, 12);
        const bool four_d = chw[1] * chw[2] > 1;
        const at::Tensor codes = four_d ? random_codes({batch, chw[0], chw[1], chw[2]}, true)
                                        : random_codes({batch, in}, false);
        // The fp32 twin is the flattened input in logical order, as flatten(1) gives it.
        const at::Tensor x = fp32_of(four_d ? codes.flatten(1) : codes, layer);
        const CodesOutput out{0.07f, 200, true, 1};
        const std::string what = "Linear [" + std::to_string(chw[0]) + "," +
                                 std::to_string(chw[1]) + "," + std::to_string(chw[2]) + "]->" +
                                 std::to_string(out_dim) + " batch " + std::to_string(batch);
        Diff vs_eager;
        at::Tensor eager_codes;
        for (const std::string& b : codes_backends(LayerKind::kLinear, layer)) {
          const LayerKernelPtr k = backend_by_name(b).make_kernel(LayerKind::kLinear, layer, {});
          const at::Tensor got = codes_of(k).forward_codes(codes, out);
          EXPECT_TRUE(at::equal(got, unfused(*k, x, out))) << b << " " << what;
          EXPECT_TRUE(at::equal(codes_of(k).forward_from_codes(codes, false), k->forward(x)))
              << b << " " << what;
          if (four_d)  // the same codes, contiguous: the unpermuted weights
            EXPECT_TRUE(at::equal(codes_of(k).forward_codes(codes.contiguous(), out), got))
                << b << " " << what;
          if (b == "eager")
            eager_codes = got;
          else
            compare_to_eager(b, got, eager_codes, what, &vs_eager);
        }
        if (vs_eager.total > 0) expect_within_bound(vs_eager, what);
        if (HasFailure()) return;
      }
}

TEST(Int8Chain, OnlyStaticU8LayersHaveCodes) {
  at::manual_seed(kSeed);
  Int8Layer layer = make_layer(at::randn({4, 8}), 0.1f, 3);
  for (const Backend& b : backends()) {
    std::string why;
    if (!b.runs_int8() || !b.supports(LayerKind::kLinear, layer, &why)) continue;
    Int8Layer dyn = layer, s8 = layer;
    dyn.input.dynamic = true;
    s8.input.is_signed = true;
    s8.input.zero_point = 0;
    EXPECT_EQ(codes_kernel(*b.make_kernel(LayerKind::kLinear, dyn, {})), nullptr) << b.name;
    EXPECT_EQ(codes_kernel(*b.make_kernel(LayerKind::kLinear, s8, {})), nullptr) << b.name;
  }
  EXPECT_EQ(codes_kernel(*make_fp32_kernel(LayerKind::kLinear, at::randn({4, 8}), std::nullopt)),
            nullptr);
  EXPECT_NE(codes_kernel(*make_eager_int8_kernel(LayerKind::kLinear, layer, {})), nullptr);
}

TEST(Int8Chain, RejectsBadCalls) {
  at::manual_seed(kSeed);
  const Int8Layer layer = make_layer(at::randn({4, 8}), 0.1f, 3);
  for (const std::string& b : codes_backends(LayerKind::kLinear, layer)) {
    const LayerKernelPtr k = backend_by_name(b).make_kernel(LayerKind::kLinear, layer, {});
    const Int8CodesKernel& c = codes_of(k);
    const at::Tensor codes = random_codes({2, 8}, false);
    testing::expect_error([&] { c.forward_codes(codes.to(at::kChar), CodesOutput{}); },
                          "expected uint8 input codes");
    testing::expect_error(
        [&] {
          c.forward_codes(codes, CodesOutput{0.1f, 256, false, 1});
        },
        "expected an output zero point in [0, 255], got 256");
    testing::expect_error(
        [&] {
          c.forward_codes(codes, CodesOutput{0.1f, 3, false, 2});
        },
        "max-pooling the output needs a Conv2d");
    testing::expect_error(
        [&] {
          c.forward_codes(random_codes({2, 9}, false), CodesOutput{});
        },
        "expected input");
  }
}

// fmnist-cnn-tiny with real weights and static parameters calibrated on real
// images: each layer's codes on onednn against eager's from the same input
// codes, and the whole chain's logits.
TEST(Int8Chain, FmnistTinyOnednnCodesWithinBoundOfEager) {
  std::string why;
  const Int8Layer probe = make_layer(at::randn({2, 2}), 0.1f, 0);
  if (!onednn_int8_supports(LayerKind::kLinear, probe, &why)) GTEST_SKIP() << why;
  ModelOptions mo;
  mo.cache_dir = QTUNE_TEST_CACHE_DIR;
  const std::string spec = "builtin:fmnist-cnn-tiny";
  const TaskData data = load_task_data(spec, 512, 1024, 3, mo.cache_dir);
  CalibrationData calib;
  calib.batches = data.calibration.input_batches(128);
  std::map<std::string, ModelPtr> models;
  for (const std::string b : {"eager", "onednn"}) {
    models[b] = load_model(spec, mo);
    const QuantConfig config =
        QuantConfig::from_json(Json{{"algorithm", "static"}, {"backend", b}}, "test");
    quantizer_by_name("static").quantize(*models[b], config, calib);
  }
  const auto eager = models["eager"]->layers();
  const auto onednn = models["onednn"]->layers();
  ASSERT_EQ(eager.size(), 4u);
  for (int64_t batch : {1, 3, 64, 1024}) {
    const at::Tensor images = data.evaluation.inputs.narrow(0, 0, batch).contiguous();
    // Both chains start from the same codes at every layer (eager's), so each
    // layer's difference is its own, not carried over.
    at::Tensor c = quantize_chain_input(
        images, dynamic_cast<const Int8Kernel&>(*eager[0]->kernel()).int8_layer());
    for (size_t i = 0; i + 1 < eager.size(); ++i) {
      const auto& next = dynamic_cast<const Int8Kernel&>(*eager[i + 1]->kernel()).int8_layer();
      const CodesOutput out = codes_output_for(next, true, i < 2 ? 2 : 1);
      const at::Tensor want = codes_of(eager[i]->kernel()).forward_codes(c, out);
      const at::Tensor got = codes_of(onednn[i]->kernel()).forward_codes(c, out);
      Diff d;
      d.add(got, want);
      std::printf("fmnist-cnn-tiny batch %lld %s: %lld of %lld codes differ (max %lld)\n",
                  static_cast<long long>(batch), eager[i]->name().c_str(),
                  static_cast<long long>(d.differing), static_cast<long long>(d.total),
                  static_cast<long long>(d.max_abs));
      expect_within_bound(d, eager[i]->name() + " batch " + std::to_string(batch));
      EXPECT_GT(want.to(at::kInt).ne(out.zero_point).sum().item<int64_t>(), 0);
      c = want;
    }
  }
}

}  // namespace
}  // namespace qtune
