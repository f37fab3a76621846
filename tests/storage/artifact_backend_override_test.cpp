// load_saved_model with a backend override: the saved layers rebuilt on
// another backend compute what the override's backend computes on the same
// codes, and a backend that cannot run a layer is refused with the layer's name.
#include <gtest/gtest.h>

#include "backends/backend_list.h"
#include "quantizers/quantizer.h"
#include "storage/artifact.h"
#include "support/random_fmnist_cnn.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::TempDir;

at::Tensor sample_input(uint64_t seed) {
  at::manual_seed(seed);
  return at::rand({5, 1, 28, 28});
}

/// RTN W4 g32 with `backend`, saved to dir/m.
ModelPtr save_rtn(const TempDir& dir, const std::string& backend) {
  ModelPtr model = testing::random_fmnist_cnn(11);
  QuantConfig c;
  c.algorithm = "rtn";
  c.params = Json{{"bits", 4}, {"group_size", 32}};
  c.backend = backend;
  const auto reports = quantize(*model, c);
  save_model(*model, dir / "m", c, reports);
  return model;
}

TEST(ArtifactBackendOverride, SavedFormRecordsBackendDetailAndReason) {
  TempDir dir;
  save_rtn(dir, "auto");
  SavedModelInfo info;
  ModelPtr loaded = load_saved_model(dir / "m", &info);
  int quantized = 0;
  for (const auto& [name, layer] : info.qconfig["layers"].items()) {
    if (!layer["quantized"].get<bool>()) continue;
    ++quantized;
    const std::string backend = layer["backend"].get<std::string>();
    // The saved detail is the kernel's own, which the reloaded kernel repeats.
    EXPECT_EQ(layer["backend_detail"], loaded->layer(name).kernel()->backend_detail()) << name;
    EXPECT_EQ(layer["backend_detail"].get<std::string>().rfind(backend, 0), 0u) << name;
    EXPECT_EQ(layer["backend_reason"].get<std::string>().rfind(backend_reason::kAuto, 0), 0u)
        << layer.dump();
  }
  EXPECT_EQ(quantized, 4);
}

// Every weight-only backend of the list, as an override of a model saved on
// eager, gives what that backend gives when it quantizes the same model.
TEST(ArtifactBackendOverride, RebuildsEveryLayerOnTheRequestedBackend) {
  for (const Backend& b : backends()) {
    if (!b.runs_weight_only()) continue;
    TempDir dir;
    ModelPtr on_eager = save_rtn(dir, "eager");
    TempDir direct_dir;
    ModelPtr direct = save_rtn(direct_dir, b.name);
    ModelPtr loaded = load_saved_model(dir / "m", nullptr, b.name);
    for (const LayerSlot* slot : loaded->layers())
      EXPECT_EQ(slot->kernel()->backend(), b.name) << slot->name();
    const at::Tensor x = sample_input(3);
    const at::Tensor want = direct->forward(x);
    ASSERT_GT(want.abs().sum().item<float>(), 0.0f) << "all-zero outputs would prove nothing";
    // Same codes, same backend, same kernel path: identical outputs.
    EXPECT_TRUE(at::equal(loaded->forward(x), want)) << b.name;
  }
}

TEST(ArtifactBackendOverride, AutoChoosesPerLayer) {
  TempDir dir;
  save_rtn(dir, "eager");
  ModelPtr loaded = load_saved_model(dir / "m", nullptr, "auto");
  for (const LayerSlot* slot : loaded->layers()) {
    std::string reason;
    const Backend& want =
        choose_backend("auto", slot->kind(), slot->kernel()->quantized_weight()->spec, &reason);
    EXPECT_EQ(slot->kernel()->backend(), want.name) << slot->name();
  }
}

TEST(ArtifactBackendOverride, BackendWithoutTheLayerFamilyNamesLayerAndReason) {
  TempDir dir;
  save_rtn(dir, "eager");
  // An int8-only backend cannot run a weight-only layer; the error names the
  // first layer it meets, the backend and the list's reason.
  int int8_only = 0;
  for (const Backend& b : backends()) {
    if (b.runs_weight_only()) continue;
    ++int8_only;
    const std::string where = (dir / "m").string() + ": layer '";
    testing::expect_error([&] { load_saved_model(dir / "m", nullptr, b.name); },
                          "': backend '" + b.name + "' cannot run ");
    testing::expect_error([&] { load_saved_model(dir / "m", nullptr, b.name); }, where);
    testing::expect_error([&] { load_saved_model(dir / "m", nullptr, b.name); },
                          std::string(": ") + backend_reason::kNoWeightOnly);
  }
  EXPECT_GT(int8_only, 0) << "no int8-only backend in the list: nothing was tested";
  testing::expect_error([&] { load_saved_model(dir / "m", nullptr, "tpu"); },
                        "unknown backend 'tpu'");
}

}  // namespace
}  // namespace qtune
