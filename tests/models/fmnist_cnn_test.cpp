#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "models/builtin.h"

namespace qtune {
namespace {

constexpr const char* kSpec = "builtin:fmnist-cnn-tiny";

std::map<std::string, at::Tensor> random_weights(uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto r = [&](std::vector<int64_t> shape, double scale) {
    return at::empty(shape, at::kFloat).normal_(0, scale, gen);
  };
  return {{"conv1.weight", r({16, 1, 3, 3}, 0.3)},  {"conv1.bias", r({16}, 0.1)},
          {"conv2.weight", r({32, 16, 3, 3}, 0.1)}, {"conv2.bias", r({32}, 0.1)},
          {"fc1.weight", r({128, 1568}, 0.03)},     {"fc1.bias", r({128}, 0.1)},
          {"fc2.weight", r({10, 128}, 0.1)},        {"fc2.bias", r({10}, 0.1)}};
}

at::Tensor random_input(int64_t n, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::empty({n, 1, 28, 28}, at::kFloat).normal_(0, 1, gen);
}

// The architecture written out with plain ATen ops, independent of LayerSlot.
at::Tensor reference_forward(const std::map<std::string, at::Tensor>& w, const at::Tensor& x) {
  at::Tensor h = at::conv2d(x, w.at("conv1.weight"), w.at("conv1.bias"), {1, 1}, {1, 1});
  h = at::max_pool2d(at::relu(h), {2, 2});
  h = at::conv2d(h, w.at("conv2.weight"), w.at("conv2.bias"), {1, 1}, {1, 1});
  h = at::max_pool2d(at::relu(h), {2, 2});
  h = at::relu(
      at::linear(h.reshape({x.size(0), 32 * 7 * 7}), w.at("fc1.weight"), w.at("fc1.bias")));
  return at::linear(h, w.at("fc2.weight"), w.at("fc2.bias"));
}

TEST(FmnistCnn, ForwardMatchesPlainAtenReference) {
  const auto w = random_weights(1);
  ModelPtr m = build_model(kSpec, w);
  const at::Tensor x = random_input(5, 2);
  const at::Tensor y = m->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{5, 10}));
  const at::Tensor ref = reference_forward(w, x);
  ASSERT_GT(ref.abs().max().item<float>(), 0.1f) << "vacuous: reference output is ~zero";
  // Same ATen ops on the same tensors in the same order: bit-identical.
  EXPECT_TRUE(y.equal(ref)) << "max diff " << (y - ref).abs().max().item<float>();
}

TEST(FmnistCnn, LayersInForwardOrderWithKindsAndShapes) {
  ModelPtr m = build_model(kSpec, random_weights(1));
  EXPECT_EQ(m->spec(), kSpec);
  const auto layers = m->layers();
  ASSERT_EQ(layers.size(), 4u);
  const std::vector<std::string> names{"conv1", "conv2", "fc1", "fc2"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(layers[i]->name(), names[i]);
    EXPECT_FALSE(layers[i]->quantized());
    EXPECT_EQ(layers[i]->kernel()->backend(), "fp32");
    ASSERT_TRUE(layers[i]->bias().has_value());
  }
  EXPECT_EQ(layers[0]->kind(), LayerKind::kConv2d);
  EXPECT_EQ(layers[0]->geometry().padding, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(layers[2]->kind(), LayerKind::kLinear);
  EXPECT_EQ(layers[2]->weight().sizes(), (std::vector<int64_t>{128, 1568}));
  EXPECT_EQ(&m->layer("fc1"), layers[2]);
  const Model& cm = *m;
  EXPECT_EQ(cm.layers()[3], layers[3]);
}

TEST(FmnistCnn, UnknownLayerErrorListsTheLayers) {
  ModelPtr m = build_model(kSpec, random_weights(1));
  try {
    m->layer("fc3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "no layer named 'fc3' in model builtin:fmnist-cnn-tiny (layers: conv1, conv2, fc1, "
              "fc2)");
  }
}

TEST(FmnistCnn, RejectsInputOfTheWrongShape) {
  ModelPtr m = build_model(kSpec, random_weights(1));
  EXPECT_THROW(m->forward(at::zeros({2, 28, 28})), Error);
  EXPECT_THROW(m->forward(at::zeros({2, 3, 28, 28})), Error);
  EXPECT_THROW(m->forward(at::zeros({2, 1, 28, 28}, at::kDouble)), Error);
}

TEST(FmnistCnn, CaptureSeesEachLayersInput) {
  ModelPtr m = build_model(kSpec, random_weights(1));
  std::map<std::string, std::vector<int64_t>> seen;
  at::Tensor fc2_input;
  for (LayerSlot* s : m->layers()) {
    s->set_capture([&seen, &fc2_input, name = s->name()](const at::Tensor& x) {
      seen[name] = x.sizes().vec();
      if (name == "fc2") fc2_input = x.clone();
    });
  }
  const at::Tensor x = random_input(3, 4);
  const at::Tensor y = m->forward(x);
  EXPECT_EQ(seen["conv1"], (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_EQ(seen["conv2"], (std::vector<int64_t>{3, 16, 14, 14}));
  EXPECT_EQ(seen["fc1"], (std::vector<int64_t>{3, 1568}));
  EXPECT_EQ(seen["fc2"], (std::vector<int64_t>{3, 128}));
  // The captured tensor is really what fc2 consumed.
  const LayerSlot& fc2 = m->layer("fc2");
  EXPECT_TRUE(at::linear(fc2_input, fc2.weight(), *fc2.bias()).equal(y));

  for (LayerSlot* s : m->layers()) s->clear_capture();
  seen.clear();
  m->forward(x);
  EXPECT_TRUE(seen.empty());
}

// A stand-in for a quantized kernel: the fp32 layer with its output doubled.
class DoublingKernel final : public LayerKernel {
 public:
  explicit DoublingKernel(LayerKernelPtr inner) : inner_(std::move(inner)) {}
  at::Tensor forward(const at::Tensor& x) const override { return inner_->forward(x) * 2; }
  std::string backend() const override { return "test-doubling"; }
  std::map<std::string, at::Tensor> tensors() const override { return inner_->tensors(); }
  int64_t storage_bytes() const override { return inner_->storage_bytes(); }

 private:
  LayerKernelPtr inner_;
};

TEST(FmnistCnn, SwappingAKernelChangesTheOutput) {
  const auto w = random_weights(1);
  ModelPtr m = build_model(kSpec, w);
  const at::Tensor x = random_input(4, 5);
  const at::Tensor before = m->forward(x);
  LayerSlot& fc2 = m->layer("fc2");
  fc2.set_kernel(std::make_shared<DoublingKernel>(fc2.kernel()));
  EXPECT_TRUE(fc2.quantized());
  // fc2 is the last layer, so the logits double exactly (x2 is exact in float).
  EXPECT_TRUE(m->forward(x).equal(before * 2));
  EXPECT_TRUE(fc2.weight().equal(w.at("fc2.weight"))) << "the fp32 weight must stay untouched";
}

TEST(FmnistCnn, CloneIsIndependent) {
  ModelPtr m = build_model(kSpec, random_weights(1));
  const at::Tensor x = random_input(4, 6);
  const at::Tensor before = m->forward(x);
  int original_captures = 0;
  m->layer("conv1").set_capture([&](const at::Tensor&) { ++original_captures; });

  ModelPtr c = m->clone();
  EXPECT_EQ(c->spec(), m->spec());
  EXPECT_EQ(c->layer("fc1").kernel(), m->layer("fc1").kernel()) << "kernels are shared";
  EXPECT_NE(&c->layer("fc1"), &m->layer("fc1")) << "slots are not";
  c->layer("fc1").set_kernel(std::make_shared<DoublingKernel>(c->layer("fc1").kernel()));
  EXPECT_FALSE(c->forward(x).equal(before));
  EXPECT_EQ(original_captures, 0) << "a capture on the original must not fire for the clone";

  EXPECT_FALSE(m->layer("fc1").quantized());
  EXPECT_TRUE(m->forward(x).equal(before));
  EXPECT_EQ(original_captures, 1);
}

TEST(FmnistCnn, BuildModelRoundTripsThroughLayerTensors) {
  ModelPtr m = build_model(kSpec, random_weights(3));
  std::map<std::string, at::Tensor> saved;
  for (const LayerSlot* s : static_cast<const Model&>(*m).layers()) {
    saved[s->name() + ".weight"] = s->weight();
    saved[s->name() + ".bias"] = *s->bias();
  }
  saved["unrelated.tensor"] = at::zeros({3});  // extra tensors are ignored
  ModelPtr again = build_model("builtin:fmnist-cnn", saved);
  EXPECT_EQ(again->spec(), "builtin:fmnist-cnn");
  const at::Tensor x = random_input(2, 7);
  EXPECT_TRUE(again->forward(x).equal(m->forward(x)));
}

TEST(FmnistCnn, BuildModelOwnsItsTensors) {
  auto w = random_weights(3);
  ModelPtr m = build_model(kSpec, w);
  const at::Tensor x = random_input(2, 7);
  const at::Tensor before = m->forward(x);
  w.at("fc2.weight").zero_();
  EXPECT_TRUE(m->forward(x).equal(before));
}

void expect_build_error(const std::map<std::string, at::Tensor>& w, const std::string& fragment) {
  try {
    build_model(kSpec, w);
    FAIL() << "expected an error mentioning " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(FmnistCnn, BuildModelRejectsMissingOrMisshapenTensors) {
  auto missing = random_weights(1);
  missing.erase("conv2.bias");
  expect_build_error(missing, "'conv2.bias' is missing");

  auto wrong = random_weights(1);
  wrong["fc1.weight"] = at::zeros({128, 1567});
  expect_build_error(wrong, "'fc1.weight' must have shape [128, 1568], got [128, 1567]");

  auto ints = random_weights(1);
  ints["fc2.bias"] = at::zeros({10}, at::kInt);
  expect_build_error(ints, "'fc2.bias' must be floating point");

  try {
    build_model("builtin:resnet", random_weights(1));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("builtin:fmnist-cnn-tiny"), std::string::npos) << e.what();
  }
}

TEST(LayerSlot, RejectsWeightsThatDoNotFitTheKind) {
  EXPECT_THROW(LayerSlot("l", LayerKind::kLinear, at::zeros({2, 3, 1, 1}), std::nullopt), Error);
  EXPECT_THROW(LayerSlot("c", LayerKind::kConv2d, at::zeros({2, 3}), std::nullopt), Error);
  EXPECT_THROW(LayerSlot("l", LayerKind::kLinear, at::zeros({2, 3}), at::zeros({3})), Error);
  LayerSlot ok("l", LayerKind::kLinear, at::ones({2, 3}), std::nullopt);
  EXPECT_TRUE(ok(at::ones({1, 3})).equal(at::full({1, 2}, 3.0f)));
}

}  // namespace
}  // namespace qtune
