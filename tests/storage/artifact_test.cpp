#include "storage/artifact.h"

#include <gtest/gtest.h>

#include <utility>

#include "backends/backend_list.h"
#include "common/error.h"
#include "models/builtin.h"
#include "models/safetensors.h"
#include "support/random_fmnist_cnn.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

const char* kSpec = "builtin:fmnist-cnn";

/// The fmnist CNN with random weights: no training, no data set needed.
ModelPtr random_cnn(uint64_t seed) { return testing::random_fmnist_cnn(seed); }

at::Tensor sample_input(uint64_t seed) {
  at::manual_seed(seed);
  return at::rand({5, 1, 28, 28});
}

/// Quantizes the named layers with `spec` on the eager backend, as a quantizer would.
std::vector<LayerReport> quantize_layers(Model& model,
                                         const std::map<std::string, QuantSpec>& specs) {
  std::vector<LayerReport> reports;
  for (LayerSlot* slot : model.layers()) {
    LayerReport r;
    r.name = slot->name();
    r.kind = to_string(slot->kind());
    auto it = specs.find(slot->name());
    if (it != specs.end()) {
      const Backend& eager = backend_by_name("eager");
      slot->set_kernel(eager.make_kernel(slot->kind(),
                                         QuantizedWeight::from_float(slot->weight(), it->second),
                                         slot->bias(), slot->geometry()));
      r.quantized = true;
      r.params = Json{{"bits", it->second.bits}};
      r.backend = "eager";
      r.backend_reason = "requested";
    } else {
      r.backend = "fp32";
    }
    reports.push_back(r);
  }
  return reports;
}

QuantSpec spec_of(int bits, Scheme scheme, Granularity g, int64_t group_size = 32) {
  QuantSpec s;
  s.bits = bits;
  s.scheme = scheme;
  s.granularity = g;
  s.group_size = group_size;
  return s;
}

/// conv1 stays fp32; the others cover sym/asym and each granularity.
std::map<std::string, QuantSpec> mixed_specs() {
  return {{"conv2", spec_of(3, Scheme::kAsym, Granularity::kPerGroup, 20)},
          {"fc1", spec_of(4, Scheme::kSym, Granularity::kPerGroup, 32)},
          {"fc2", spec_of(8, Scheme::kAsym, Granularity::kPerChannel)}};
}

QuantConfig rtn_config() {
  QuantConfig c;
  c.algorithm = "rtn";
  c.params = Json{{"bits", 4}, {"group_size", 32}};
  c.backend = "eager";
  return c;
}

TEST(Artifact, SaveThenLoadGivesBitIdenticalOutputs) {
  TempDir dir;
  ModelPtr model = random_cnn(1);
  const auto reports = quantize_layers(*model, mixed_specs());
  save_model(*model, dir / "m", rtn_config(), reports, Json{{"accuracy", 0.5}});
  EXPECT_TRUE(is_saved_model_dir(dir / "m"));

  SavedModelInfo info;
  ModelPtr loaded = load_saved_model(dir / "m", &info);
  EXPECT_EQ(info.model_spec, kSpec);
  EXPECT_EQ(loaded->spec(), kSpec);
  const at::Tensor x = sample_input(2);
  const at::Tensor want = model->forward(x);
  const at::Tensor got = loaded->forward(x);
  ASSERT_GT(want.abs().sum().item<float>(), 0.0f) << "all-zero outputs would prove nothing";
  EXPECT_TRUE(at::equal(want, got));
  // And the quantization mattered: the fp32 model gives other outputs.
  EXPECT_FALSE(at::equal(random_cnn(1)->forward(x), got));

  for (const LayerSlot* slot : loaded->layers()) {
    const LayerSlot& orig = model->layer(slot->name());
    EXPECT_EQ(slot->kernel()->backend(), orig.kernel()->backend()) << slot->name();
    EXPECT_EQ(slot->quantized(), orig.quantized()) << slot->name();
  }
  EXPECT_EQ(model_storage_bytes(*loaded), model_storage_bytes(*model));
}

TEST(Artifact, ALoadedQuantizedLayerHoldsItsWeightInItsKernelOnly) {
  TempDir dir;
  ModelPtr model = random_cnn(5);
  const auto reports = quantize_layers(*model, mixed_specs());
  save_model(*model, dir / "m", rtn_config(), reports);
  ModelPtr loaded = load_saved_model(dir / "m");
  for (LayerSlot* slot : loaded->layers()) {
    const LayerSlot& orig = model->layer(slot->name());
    EXPECT_EQ(slot->weight_sizes(), orig.weight_sizes()) << slot->name();
    if (!orig.quantized()) {
      EXPECT_TRUE(slot->holds_weight_values()) << slot->name();
      EXPECT_TRUE(at::equal(slot->weight(), orig.weight())) << slot->name();
      continue;
    }
    // No fp32 copy beside the codes: the weight is dequantized when asked for.
    EXPECT_FALSE(slot->holds_weight_values()) << slot->name();
    const at::Tensor want = orig.kernel()->quantized_weight()->dequantize();
    EXPECT_TRUE(at::equal(slot->weight(), want)) << slot->name();
    EXPECT_TRUE(at::equal(slot->resident_weight(), want)) << slot->name();
    EXPECT_FALSE(at::equal(want, orig.weight()))
        << slot->name() << ": quantization changed nothing";
  }
  // Saving the loaded model again writes the same layers.
  save_model(*loaded, dir / "again", rtn_config(), reports);
  ModelPtr again = load_saved_model(dir / "again");
  const at::Tensor x = sample_input(6);
  EXPECT_TRUE(at::equal(again->forward(x), model->forward(x)));
  // Another kernel (as a quantizer starting over installs) takes the weight
  // out of the kernel it replaces: the slot keeps the loaded values.
  LayerSlot& fc1 = loaded->layer("fc1");
  const at::Tensor loaded_fc1 = fc1.weight();
  fc1.set_kernel(make_fp32_kernel(fc1.kind(), fc1.resident_weight(), fc1.bias(), fc1.geometry()));
  EXPECT_TRUE(fc1.holds_weight_values());
  EXPECT_FALSE(fc1.quantized());
  EXPECT_TRUE(at::equal(fc1.weight(), loaded_fc1));
}

TEST(Artifact, UnquantizedModelRoundTrips) {
  TempDir dir;
  ModelPtr model = random_cnn(3);
  save_model(*model, dir / "fp32", QuantConfig{}, {});
  ModelPtr loaded = load_saved_model(dir / "fp32");
  const at::Tensor x = sample_input(4);
  EXPECT_TRUE(at::equal(model->forward(x), loaded->forward(x)));
  for (const LayerSlot* slot : loaded->layers()) EXPECT_FALSE(slot->quantized());
}

TEST(Artifact, QconfigRecordsFormatConfigLayersAndMetrics) {
  TempDir dir;
  ModelPtr model = random_cnn(5);
  const auto reports = quantize_layers(*model, mixed_specs());
  const Json metrics{{"accuracy", 0.875}, {"latency_ms_p50", 1.5}};
  save_model(*model, dir / "m", rtn_config(), reports, metrics);
  const Json q = Json::parse(read_bytes(dir / "m" / "qconfig.json"));
  EXPECT_EQ(q["format"], "qtune-model");
  EXPECT_EQ(q["format_version"], 1);
  EXPECT_EQ(q["model"], kSpec);
  EXPECT_EQ(q["quant_config"], rtn_config().to_json());
  EXPECT_EQ(q["metrics"], metrics);
  const Json& l = q["layers"];
  ASSERT_EQ(l.size(), 4u);
  std::vector<std::string> order;
  for (const auto& [name, v] : l.items()) order.push_back(name);
  EXPECT_EQ(order, (std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"})) << "forward order";
  EXPECT_EQ(l["conv1"]["quantized"], false);
  EXPECT_EQ(l["conv1"]["backend"], "fp32");
  EXPECT_EQ(l["conv1"]["kind"], "Conv2d");
  EXPECT_EQ(l["fc1"]["quantized"], true);
  EXPECT_EQ(l["fc1"]["kind"], "Linear");
  EXPECT_EQ(l["fc1"]["bits"], 4);
  EXPECT_EQ(l["fc1"]["scheme"], "sym");
  EXPECT_EQ(l["fc1"]["granularity"], "per_group");
  EXPECT_EQ(l["fc1"]["group_size"], 32);
  EXPECT_EQ(l["fc1"]["backend"], "eager");
  EXPECT_EQ(l["fc1"]["algorithm"], "rtn");
  EXPECT_EQ(l["fc1"]["shape"], Json::array({128, 1568}));
  EXPECT_EQ(l["conv2"]["shape"], Json::array({32, 16, 3, 3}));
  EXPECT_EQ(l["conv2"]["scheme"], "asym");
  EXPECT_EQ(l["fc2"]["granularity"], "per_channel");

  // The tensors file: packed words and parameters, with shapes worked out by hand.
  const auto st = read_safetensors(dir / "m" / "model.safetensors");
  // fc1: 1568 4-bit values per row, 8 per word -> 196 words; 1568/32 = 49 groups.
  EXPECT_EQ(st.tensors.at("fc1.qweight").sizes(), at::IntArrayRef({128, 196}));
  EXPECT_EQ(st.tensors.at("fc1.qweight").scalar_type(), at::kInt);
  EXPECT_EQ(st.tensors.at("fc1.scales").sizes(), at::IntArrayRef({128, 49}));
  EXPECT_EQ(st.tensors.count("fc1.qzeros"), 0u) << "sym has no zero points";
  // conv2: 144 3-bit values per row, 10 per word -> 15 words; groups of 20 -> 8 groups.
  EXPECT_EQ(st.tensors.at("conv2.qweight").sizes(), at::IntArrayRef({32, 15}));
  EXPECT_EQ(st.tensors.at("conv2.qzeros").sizes(), at::IntArrayRef({32, 8}));
  EXPECT_EQ(st.tensors.at("conv1.weight").sizes(), at::IntArrayRef({16, 1, 3, 3}));
  for (const char* name : {"conv1.bias", "conv2.bias", "fc1.bias", "fc2.bias"})
    EXPECT_EQ(st.tensors.count(name), 1u) << name;
  EXPECT_EQ(st.tensors.count("fc1.weight"), 0u) << "a quantized layer stores no float weight";
}

TEST(Artifact, StorageBytes) {
  ModelPtr model = random_cnn(6);
  // Every weight and bias as fp32, counted by hand from the layer shapes.
  const int64_t fp32 = (16 * 9 + 16 + 32 * 144 + 32 + 128 * 1568 + 128 + 10 * 128 + 10) * 4;
  EXPECT_EQ(model_storage_bytes(*model), fp32);
  std::map<std::string, QuantSpec> all4;
  for (const char* name : {"conv1", "conv2", "fc1", "fc2"})
    all4[name] = spec_of(4, Scheme::kSym, Granularity::kPerGroup, 32);
  quantize_layers(*model, all4);
  const int64_t q4 = model_storage_bytes(*model);
  EXPECT_GT(q4, 0);
  EXPECT_LT(q4, fp32 / 6) << "4-bit with group 32 takes 4.5 bits per weight";
}

TEST(Artifact, SaveReplacesAnExistingModelAndLeavesNoTempFiles) {
  TempDir dir;
  ModelPtr first = random_cnn(7);
  save_model(*first, dir / "m", QuantConfig{}, {});
  ModelPtr second = random_cnn(8);
  quantize_layers(*second, mixed_specs());
  save_model(*second, dir / "m", rtn_config(), {});
  const at::Tensor x = sample_input(9);
  EXPECT_TRUE(at::equal(load_saved_model(dir / "m")->forward(x), second->forward(x)));
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "m");
  }
  EXPECT_EQ(entries, 1);
}

TEST(Artifact, RefusesToReplaceADirectoryThatIsNotAModel) {
  TempDir dir;
  std::filesystem::create_directories(dir / "home");
  write_bytes(dir / "home" / "thesis.txt", "precious");
  ModelPtr model = random_cnn(10);
  expect_error([&] { save_model(*model, dir / "home", QuantConfig{}, {}); },
               "is not a saved qtune model; refusing to replace it");
  EXPECT_EQ(read_bytes(dir / "home" / "thesis.txt"), "precious");
}

TEST(Artifact, MissingDirectoryOrQconfig) {
  TempDir dir;
  EXPECT_FALSE(is_saved_model_dir(dir / "nothing"));
  expect_error([&] { load_saved_model(dir / "nothing"); }, "no such directory");
  std::filesystem::create_directories(dir / "empty");
  EXPECT_FALSE(is_saved_model_dir(dir / "empty"));
  expect_error([&] { load_saved_model(dir / "empty"); },
               "not a saved qtune model (no qconfig.json)");
}

TEST(Artifact, TruncatedTensorsFileIsACleanError) {
  TempDir dir;
  ModelPtr model = random_cnn(11);
  quantize_layers(*model, mixed_specs());
  save_model(*model, dir / "m", rtn_config(), {});
  const auto file = dir / "m" / "model.safetensors";
  const std::string whole = read_bytes(file);
  for (size_t keep : {whole.size() - 1, whole.size() / 2, size_t{20}, size_t{0}}) {
    write_bytes(file, whole.substr(0, keep));
    expect_error([&] { load_saved_model(dir / "m"); }, file.string());
  }
  std::filesystem::remove(file);
  expect_error([&] { load_saved_model(dir / "m"); }, file.string() + ": no such file");
}

/// Saves a model, applies `edit` to its qconfig.json and expects loading to fail with `fragment`.
void expect_qconfig_error(const std::function<void(Json&)>& edit, const std::string& fragment) {
  TempDir dir;
  ModelPtr model = random_cnn(12);
  quantize_layers(*model, mixed_specs());
  save_model(*model, dir / "m", rtn_config(), {});
  const auto file = dir / "m" / "qconfig.json";
  Json q = Json::parse(read_bytes(file));
  edit(q);
  write_bytes(file, q.dump());
  SCOPED_TRACE(fragment);
  expect_error([&] { load_saved_model(dir / "m"); }, fragment);
}

TEST(Artifact, CorruptQconfigIsACleanError) {
  TempDir dir;
  ModelPtr model = random_cnn(13);
  save_model(*model, dir / "m", QuantConfig{}, {});
  const auto file = dir / "m" / "qconfig.json";
  write_bytes(file, "{\"format\": \"qtune-model\", ");
  expect_error([&] { load_saved_model(dir / "m"); }, file.string() + ": not valid JSON");
  write_bytes(file, "[]");
  expect_error([&] { load_saved_model(dir / "m"); }, file.string() + ": expected a JSON object");

  expect_qconfig_error([](Json& q) { q["format"] = "gguf"; }, "qconfig.json: format: expected");
  expect_qconfig_error([](Json& q) { q["format_version"] = 2; },
                       "format_version 2 is newer than this qtune reads (1); upgrade qtune");
  expect_qconfig_error([](Json& q) { q.erase("layers"); }, "missing field 'layers'");
  expect_qconfig_error([](Json& q) { q.erase("model"); }, "missing field 'model'");
  expect_qconfig_error([](Json& q) { q["model"] = "builtin:nope"; },
                       "unknown model \"builtin:nope\"");
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["bits"] = "4"; },
                       "layers.fc1.bits: expected an integer");
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["bits"] = 12; },
                       "layers.fc1.bits: expected 1..8, got 12");
  // Claims other bits than the data has: the packed shape no longer fits.
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["bits"] = 3; },
                       "layer 'fc1': qweight: expected int32 [128, 157]");
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["scheme"] = "asym"; },
                       "layer 'fc1': qzeros: expected int32 [128, 49] for an asym layer");
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["granularity"] = "rows"; },
                       "layers.fc1.granularity: expected per_tensor, per_channel or per_group");
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["backend"] = "nope"; },
                       "layers.fc1.backend");
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["kind"] = "Conv2d"; },
                       "layers.fc1.kind: the model's layer is Linear");
  expect_qconfig_error(
      [](Json& q) {
        q["layers"]["fc1"]["shape"] = Json::array({128, -1568});
      },
      "layers.fc1.shape: expected a list of positive integers");
  expect_qconfig_error([](Json& q) { q["layers"]["extra"] = q["layers"]["fc1"]; },
                       "quantized layer 'extra' needs tensors");
  expect_qconfig_error([](Json& q) { q["layers"]["fc1"]["quantized"] = false; },
                       "tensor 'fc1.weight' is missing");
}

/// An eager kernel that does not expose its QuantizedWeight, as a third-party
/// backend might not: saving must then take the spec from the layer report.
class OpaqueKernel final : public LayerKernel {
 public:
  explicit OpaqueKernel(LayerKernelPtr inner) : inner_(std::move(inner)) {}
  at::Tensor forward(const at::Tensor& x) const override { return inner_->forward(x); }
  std::string backend() const override { return inner_->backend(); }
  std::map<std::string, at::Tensor> tensors() const override { return inner_->tensors(); }
  int64_t storage_bytes() const override { return inner_->storage_bytes(); }

 private:
  LayerKernelPtr inner_;
};

TEST(Artifact, SpecFromReportParamsWhenTheKernelHidesIt) {
  TempDir dir;
  ModelPtr model = random_cnn(16);
  quantize_layers(*model, {{"fc1", spec_of(4, Scheme::kAsym, Granularity::kPerChannel)}});
  LayerSlot& fc1 = model->layer("fc1");
  fc1.set_kernel(std::make_shared<const OpaqueKernel>(fc1.kernel()));
  LayerReport report;
  report.name = "fc1";
  report.kind = "Linear";
  report.quantized = true;
  report.backend = "eager";
  report.params = Json{{"bits", 4}, {"group_size", -1}, {"use_sym", false}};
  save_model(*model, dir / "m", rtn_config(), {report});
  const Json q = Json::parse(read_bytes(dir / "m" / "qconfig.json"));
  EXPECT_EQ(q["layers"]["fc1"]["granularity"], "per_channel");
  EXPECT_EQ(q["layers"]["fc1"]["scheme"], "asym");
  const at::Tensor x = sample_input(17);
  EXPECT_TRUE(at::equal(load_saved_model(dir / "m")->forward(x), model->forward(x)));

  // Parameters that contradict the tensors are caught when saving, not when loading.
  report.params["group_size"] = 32;
  expect_error([&] { save_model(*model, dir / "bad", rtn_config(), {report}); },
               "layer 'fc1': scales: expected float32 [128, 49]");
  expect_error([&] { save_model(*model, dir / "none", rtn_config(), {}); },
               "layer 'fc1': cannot tell how it is quantized");
  EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
  EXPECT_FALSE(std::filesystem::exists(dir / "none"));
}

TEST(Artifact, RtnQuantizedTinyModelRoundTrips) {
  TempDir dir;
  ModelPtr model = random_cnn(14);
  QuantConfig config;  // the algorithm's defaults
  const auto reports = quantize(*model, config);
  ASSERT_FALSE(reports.empty());
  int quantized = 0;
  for (const LayerSlot* slot : std::as_const(*model).layers()) quantized += slot->quantized();
  ASSERT_GT(quantized, 0) << "the default config quantized nothing";
  save_model(*model, dir / "rtn", config, reports);
  ModelPtr loaded = load_saved_model(dir / "rtn");
  const at::Tensor x = sample_input(15);
  EXPECT_TRUE(at::equal(model->forward(x), loaded->forward(x)));
  const Json q = Json::parse(read_bytes(dir / "rtn" / "qconfig.json"));
  for (const auto& r : reports) EXPECT_EQ(q["layers"][r.name]["params"], r.params) << r.name;
}

}  // namespace
}  // namespace qtune
