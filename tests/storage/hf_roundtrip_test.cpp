// qtune -> hf-gptq / hf-awq -> qtune on the micro language model: the
// re-imported layers have bit-identical codes (and g_idx, zero points), the
// scales qtune's rounded to fp16, and the model the same perplexity as
// qtune's with those fp16 scales (the only change the export makes to it).
#include <gtest/gtest.h>

#include <fstream>

#include "backends/backend_list.h"
#include "models/builtin.h"
#include "models/llama/builtin_lm.h"
#include "quantizers/quantizer.h"
#include "storage/formats/export.h"
#include "storage/formats/hf_quantized_import.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::TempDir;

constexpr const char* kSpec = "builtin:tiny-lm-micro";

QuantConfig config_of(const std::string& algorithm, Json params) {
  QuantConfig c;
  c.algorithm = algorithm;
  c.params = std::move(params);
  return c;
}

Json read_json_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  return Json::parse(in);
}

class HfRoundTrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelOptions mo;
    mo.cache_dir = QTUNE_TEST_CACHE_DIR;
    fp_ = load_model(kSpec, mo).release();
    data_ = new TaskData(load_task_data(kSpec, 8, 4, 3, QTUNE_TEST_CACHE_DIR));
    files_ = new std::filesystem::path(ensure_builtin_lm(kSpec, QTUNE_TEST_CACHE_DIR, false));
  }
  static void TearDownTestSuite() {
    delete fp_;
    delete data_;
    delete files_;
  }

  static ModelPtr quantized(const QuantConfig& c) {
    CalibrationData calib;
    calib.batches = data_->calibration.input_batches(4);
    ModelPtr m = fp_->clone();
    quantize(*m, c, calib);
    return m;
  }

  static ExportReport export_to(const Model& m, const std::string& format,
                                const std::filesystem::path& out,
                                const std::string& checkpoint_format = "gptq") {
    ExportInput in;
    in.model = &m;
    in.files_dir = *files_;
    in.options.checkpoint_format = checkpoint_format;
    return find_export_format(format).run(in, out);
  }

  /// qtune's model with every quantized layer's scales rounded to fp16, on the
  /// backend an import picks.
  static ModelPtr with_fp16_scales(const Model& m) {
    ModelPtr ref = m.clone();
    for (LayerSlot* s : ref->layers()) {
      const QuantizedWeight* q = s->kernel()->quantized_weight();
      if (!q) continue;
      QuantizedWeight w = *q;
      w.scale = w.scale.to(at::kHalf).to(at::kFloat);
      const Backend& b = choose_backend("auto", s->kind(), w.spec, nullptr);
      s->set_kernel(b.make_kernel(s->kind(), std::move(w), s->bias(), s->geometry()));
    }
    return ref;
  }

  /// Exports, re-imports and compares; returns the directory's config.json.
  static Json round_trip(const QuantConfig& c, const std::string& format,
                         const std::string& checkpoint_format = "gptq") {
    const ModelPtr m = quantized(c);
    TempDir tmp;
    const std::filesystem::path out = tmp / "ck";
    const ExportReport report = export_to(*m, format, out, checkpoint_format);
    EXPECT_EQ(report.written, out);
    EXPECT_FALSE(report.notes.empty());
    EXPECT_NE(report.notes.front().find("scales rounded to fp16"), std::string::npos);
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
      EXPECT_TRUE(std::filesystem::is_regular_file(out / f)) << f;
    const ModelPtr back = load_hf_quantized_model(out, "hf:" + out.string());

    int quantized_layers = 0;
    for (LayerSlot* s : m->layers()) {
      const QuantizedWeight* a = s->kernel()->quantized_weight();
      const QuantizedWeight* b = back->layer(s->name()).kernel()->quantized_weight();
      EXPECT_EQ(a == nullptr, b == nullptr) << s->name();
      if (!a || !b) {
        EXPECT_TRUE(at::equal(s->weight(), back->layer(s->name()).weight())) << s->name();
        continue;
      }
      ++quantized_layers;
      EXPECT_TRUE(at::equal(a->packed, b->packed)) << s->name();
      EXPECT_TRUE(at::equal(a->scale.to(at::kHalf).to(at::kFloat), b->scale)) << s->name();
      EXPECT_EQ(a->spec.bits, b->spec.bits) << s->name();
      EXPECT_EQ(a->spec.scheme, b->spec.scheme) << s->name();
      EXPECT_EQ(a->spec.granularity, b->spec.granularity) << s->name();
      EXPECT_EQ(a->spec.groups_per_row(a->matrix_cols()), b->spec.groups_per_row(b->matrix_cols()));
      EXPECT_EQ(a->spec.has_g_idx, b->spec.has_g_idx) << s->name();
      if (a->spec.has_g_idx) EXPECT_TRUE(at::equal(a->g_idx, b->g_idx)) << s->name();
      if (a->zero.defined()) EXPECT_TRUE(at::equal(a->zero, b->zero)) << s->name();
    }
    EXPECT_GT(quantized_layers, 0);
    const double exported = data_->evaluate(*with_fp16_scales(*m)).value;
    const double imported = data_->evaluate(*back).value;
    EXPECT_EQ(exported, imported);
    // fp16 scales move each weight by at most 2^-11 of itself: perplexity barely moves.
    const double original = data_->evaluate(*m).value;
    EXPECT_NEAR(imported, original, 1e-3 * original);
    std::printf("%s %s: perplexity qtune %.6f, exported/imported %.6f\n", format.c_str(),
                c.to_json().dump().c_str(), original, imported);
    return read_json_file(out / "config.json");
  }

  static Model* fp_;
  static TaskData* data_;
  static std::filesystem::path* files_;
};
Model* HfRoundTrip::fp_ = nullptr;
TaskData* HfRoundTrip::data_ = nullptr;
std::filesystem::path* HfRoundTrip::files_ = nullptr;

TEST_F(HfRoundTrip, GptqRtn4BitSymV1) {
  const Json cj =
      round_trip(config_of("rtn", {{"bits", 4}, {"group_size", 32}, {"scheme", "sym"}}), "hf-gptq");
  const Json& q = cj["quantization_config"];
  EXPECT_EQ(q["quant_method"], "gptq");
  EXPECT_EQ(q["bits"], 4);
  EXPECT_EQ(q["group_size"], 32);
  EXPECT_EQ(q["sym"], true);
  EXPECT_EQ(q["desc_act"], false);
  EXPECT_EQ(q["checkpoint_format"], "gptq");
  EXPECT_EQ(q["lm_head"], false);
  EXPECT_FALSE(q.contains("dynamic"));
}

TEST_F(HfRoundTrip, GptqRtn3BitAsymV2) {
  const Json cj =
      round_trip(config_of("rtn", {{"bits", 3}, {"group_size", 32}, {"scheme", "asym"}}), "hf-gptq",
                 "gptq_v2");
  EXPECT_EQ(cj["quantization_config"]["checkpoint_format"], "gptq_v2");
  EXPECT_EQ(cj["quantization_config"]["sym"], false);
}

TEST_F(HfRoundTrip, GptqRtnPerChannel8BitAnd2BitAsym) {
  const Json c8 = round_trip(config_of("rtn", {{"bits", 8}, {"group_size", -1}}), "hf-gptq");
  EXPECT_EQ(c8["quantization_config"]["group_size"], -1);
  round_trip(config_of("rtn", {{"bits", 2}, {"group_size", 16}, {"scheme", "asym"}}), "hf-gptq",
             "gptq_v2");
}

TEST_F(HfRoundTrip, GptqActOrderCarriesGIdx) {
  const Json cj = round_trip(
      config_of("gptq", {{"bits", 4}, {"group_size", 32}, {"scheme", "asym"}, {"act_order", true}}),
      "hf-gptq", "gptq_v2");
  EXPECT_EQ(cj["quantization_config"]["desc_act"], true);
}

TEST_F(HfRoundTrip, GptqPerLayerDifferencesBecomeDynamicOverrides) {
  QuantConfig c = config_of("rtn", {{"bits", 4}, {"group_size", 32}, {"scheme", "sym"}});
  LayerOverride o;
  o.name_regex = "model\\.layers\\.0\\.mlp\\.down_proj";
  o.params = {{"bits", 8}};
  c.overrides.push_back(o);
  c.fp32_layers = {"model\\.layers\\.1\\.self_attn\\.k_proj", "lm_head"};
  const Json cj = round_trip(c, "hf-gptq");
  const Json& dyn = cj["quantization_config"]["dynamic"];
  ASSERT_TRUE(dyn.is_object()) << cj.dump(2);
  EXPECT_EQ(dyn.size(), 2u) << dyn.dump();
  EXPECT_EQ(dyn["+:^model\\.layers\\.0\\.mlp\\.down_proj$"], (Json{{"bits", 8}})) << dyn.dump();
  EXPECT_EQ(dyn["-:^model\\.layers\\.1\\.self_attn\\.k_proj$"], Json::object()) << dyn.dump();
}

TEST_F(HfRoundTrip, AwqRtn4BitAsymAndSym) {
  const Json cj =
      round_trip(config_of("rtn", {{"bits", 4}, {"group_size", 32}, {"scheme", "asym"}}), "hf-awq");
  const Json& q = cj["quantization_config"];
  EXPECT_EQ(q["quant_method"], "awq");
  EXPECT_EQ(q["version"], "gemm");
  EXPECT_EQ(q["zero_point"], true);
  EXPECT_EQ(q["bits"], 4);
  EXPECT_EQ(q["group_size"], 32);
  EXPECT_EQ(q["modules_to_not_convert"], (Json{"lm_head"}));
  round_trip(config_of("rtn", {{"bits", 4}, {"group_size", 32}, {"scheme", "sym"}}), "hf-awq");
}

TEST_F(HfRoundTrip, AwqAlgorithmWithFolding) {
  round_trip(config_of("awq", {{"bits", 4}, {"group_size", 32}, {"folding", true}}), "hf-awq");
}

// The exported folder is a whole checkpoint: its own tokenizer gives the same
// evaluation text, so "hf:DIR" evaluates to the same perplexity.
TEST_F(HfRoundTrip, ExportedFolderEvaluatesAsHfSpec) {
  const ModelPtr m =
      quantized(config_of("rtn", {{"bits", 4}, {"group_size", 32}, {"scheme", "sym"}}));
  TempDir tmp;
  const std::filesystem::path out = tmp / "ck";
  export_to(*m, "hf-gptq", out);
  const std::string spec = "hf:" + out.string();
  const ModelPtr back = load_hf_quantized_model(out, spec);
  const TaskData hf_data = load_task_data(spec, 0, 4, 0, QTUNE_TEST_CACHE_DIR);
  EXPECT_EQ(hf_data.evaluate(*back).value, data_->evaluate(*back).value);
  // A float load of the folder says what it is rather than missing a tensor.
  expect_error([&] { load_model(spec); }, "already quantized (gptq checkpoint)");
}

TEST_F(HfRoundTrip, RefusesWhatTheFormatsCannotCarry) {
  TempDir tmp;
  // AWQ's inserted multiplier before o_proj (GQA: nothing to fold it into).
  const ModelPtr awq = quantized(config_of("awq", {{"bits", 4}, {"group_size", 32}}));
  expect_error([&] { export_to(*awq, "hf-gptq", tmp / "a"); },
               "hf-gptq: layer 'model.layers.0.self_attn.o_proj': input multiplier");
  const ModelPtr b3 = quantized(config_of("rtn", {{"bits", 3}, {"group_size", 32}}));
  expect_error([&] { export_to(*b3, "hf-awq", tmp / "b"); },
               "hf-awq: layer 'model.layers.0.self_attn.q_proj': bits 3: the format packs 4 bits");
  const ModelPtr act =
      quantized(config_of("gptq", {{"bits", 4}, {"group_size", 32}, {"act_order", true}}));
  expect_error([&] { export_to(*act, "hf-awq", tmp / "c"); }, "act_order (g_idx)");
  const ModelPtr nf4 =
      quantized(config_of("rtn", {{"bits", 4}, {"group_size", 32}, {"dtype", "nf4"}}));
  expect_error(
      [&] { export_to(*nf4, "hf-gptq", tmp / "d"); },
      "layer 'model.layers.0.self_attn.q_proj': dtype nf4: the format stores integer codes");
  QuantConfig mixed = config_of("rtn", {{"bits", 4}, {"group_size", 32}});
  LayerOverride o;
  o.name_regex = "model\\.layers\\.1\\.mlp\\.up_proj";
  o.params = {{"group_size", 64}};
  mixed.overrides.push_back(o);
  expect_error([&] { export_to(*quantized(mixed), "hf-awq", tmp / "e"); },
               "layer 'model.layers.1.mlp.up_proj': group_size 64: the format has one group size");
  QuantConfig head = config_of("rtn", {{"bits", 4}, {"group_size", 32}});
  LayerOverride h;
  h.name_regex = "lm_head";
  head.overrides.push_back(h);
  const ModelPtr with_head = quantized(head);
  ASSERT_NE(with_head->layer("lm_head").kernel()->quantized_weight(), nullptr);
  expect_error([&] { export_to(*with_head, "hf-gptq", tmp / "h"); },
               "hf-gptq: layer 'lm_head': quantized while tied to the embeddings");
  expect_error([&] { export_to(*with_head, "hf-awq", tmp / "h"); },
               "hf-awq: layer 'lm_head': quantized: AWQ runtimes keep lm_head unquantized");
  expect_error([&] { export_to(*fp_, "hf-gptq", tmp / "f"); }, "has no quantized decoder layer");
  expect_error([&] { export_to(*b3, "hf-gptq", tmp / "g", "marlin"); },
               "checkpoint_format must be gptq (v1) or gptq_v2, got 'marlin'");
  EXPECT_FALSE(std::filesystem::exists(tmp / "a"));
}

}  // namespace
}  // namespace qtune
