// Int8 layers in saved models: save, reload, same outputs bit for bit on the
// same backend; the input quantization (static/dynamic, u8/s8, scale, zero
// point) and the backend survive; int8 weights count 1 byte each.
#include <gtest/gtest.h>

#include "backends/backend_list.h"
#include "models/builtin.h"
#include "storage/artifact.h"
#include "support/expect_error.h"
#include "support/random_fmnist_cnn.h"
#include "support/temp_dir.h"

namespace qtune {
namespace {

ModelPtr random_cnn(uint64_t seed) { return testing::random_fmnist_cnn(seed); }

/// conv1 static u8 on onednn-or-auto, conv2 static s8, fc1 dynamic u8, fc2 stays fp32.
std::vector<LayerReport> quantize_int8(Model& model, const std::string& backend) {
  std::vector<LayerReport> reports;
  QuantSpec s;
  s.bits = 8;
  s.scheme = Scheme::kSym;
  s.granularity = Granularity::kPerChannel;
  for (LayerSlot* slot : model.layers()) {
    LayerReport r;
    r.name = slot->name();
    r.kind = to_string(slot->kind());
    r.backend = "fp32";
    if (slot->name() != "fc2") {
      ActivationQuant a;
      a.dynamic = slot->name() == "fc1";
      a.is_signed = slot->name() == "conv2";
      a.scale = 0.0123f;
      a.zero_point = a.is_signed ? 0 : 37;
      Int8Layer layer{QuantizedWeight::from_float(slot->weight(), s), a, slot->bias()};
      const Backend& b = choose_backend(backend, slot->kind(), layer, &r.backend_reason);
      slot->set_kernel(b.make_kernel(slot->kind(), std::move(layer), slot->geometry()));
      r.quantized = true;
      r.backend = b.name;
      r.params = Json{{"bits", 8}};
    }
    reports.push_back(r);
  }
  return reports;
}

/// "auto" and every int8 backend that runs on this CPU (onednn and torch need VNNI).
std::vector<std::string> backends_here() {
  std::vector<std::string> names{"auto"};
  QuantizedWeight probe;
  probe.spec.bits = 8;
  probe.shape = {1, 1};
  for (const Backend& b : backends())
    if (b.runs_int8() &&
        b.supports(LayerKind::kLinear, Int8Layer{probe, {}, std::nullopt}, nullptr))
      names.push_back(b.name);
  return names;
}

TEST(Int8Artifact, SaveThenLoadGivesIdenticalOutputs) {
  for (const std::string& backend : backends_here()) {
    testing::TempDir dir;
    ModelPtr model = random_cnn(3);
    const auto reports = quantize_int8(*model, backend);
    QuantConfig config;
    config.algorithm = "static";
    config.backend = backend;
    save_model(*model, dir / "m", config, reports);
    SavedModelInfo info;
    ModelPtr loaded = load_saved_model(dir / "m", &info);
    at::manual_seed(9);
    const at::Tensor x = at::rand({5, 1, 28, 28});
    const at::Tensor expected = model->forward(x);
    EXPECT_TRUE(at::equal(loaded->forward(x), expected)) << backend;
    EXPECT_GT(expected.abs().sum().item<double>(), 0.0);

    const Json& layers = info.qconfig.at("layers");
    EXPECT_EQ(layers.at("fc1").at("int8"), (Json{{"dynamic", true}, {"signed", false}}));
    EXPECT_EQ(layers.at("conv2").at("int8"), (Json{{"dynamic", false}, {"signed", true}}));
    EXPECT_FALSE(layers.at("fc2").contains("int8"));
    for (const char* name : {"conv1", "conv2", "fc1"}) {
      const LayerSlot* slot = nullptr;
      for (const LayerSlot* s : loaded->layers())
        if (s->name() == name) slot = s;
      ASSERT_NE(slot, nullptr);
      const auto* k = dynamic_cast<const Int8Kernel*>(slot->kernel().get());
      ASSERT_NE(k, nullptr) << name;
      EXPECT_EQ(k->backend(), layers.at(name).at("backend").get<std::string>());
      EXPECT_FLOAT_EQ(k->int8_layer().input.scale, 0.0123f);
      EXPECT_EQ(k->int8_layer().input.zero_point, std::string(name) == "conv2" ? 0 : 37);
    }
    // fc1 in int8: 128 * 1568 weights at 1 byte + 128 f32 scales + 128 f32 biases.
    const LayerSlot* fc1 = loaded->layers()[2];
    EXPECT_EQ(fc1->kernel()->storage_bytes(), 128 * 1568 + 128 * 4 + 128 * 4);
  }
}

TEST(Int8Artifact, BadInt8EntryIsAnError) {
  testing::TempDir dir;
  ModelPtr model = random_cnn(4);
  const auto reports = quantize_int8(*model, "eager");
  save_model(*model, dir / "m", QuantConfig{}, reports);
  // Break the flags in qconfig.json.
  SavedModelInfo info;
  load_saved_model(dir / "m", &info);
  Json q = info.qconfig;
  q["layers"]["fc1"]["int8"] = Json{{"dynamic", "yes"}};
  testing::write_bytes(dir / "m" / "qconfig.json", q.dump());
  testing::expect_error([&] { load_saved_model(dir / "m"); },
                        "layers.fc1.int8: expected {\"dynamic\": true|false");
  q["layers"]["fc1"]["int8"] = Json{{"dynamic", true}, {"signed", false}};
  q["layers"]["fc1"]["backend"] = "tpu";
  testing::write_bytes(dir / "m" / "qconfig.json", q.dump());
  testing::expect_error([&] { load_saved_model(dir / "m"); },
                        "layers.fc1.backend: unknown backend 'tpu'");
}

}  // namespace
}  // namespace qtune
