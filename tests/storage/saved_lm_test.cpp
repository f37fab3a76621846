// A saved language model is self-contained: it moves to another directory,
// its source checkpoint is deleted, and it still loads and evaluates to the
// same perplexity, bit for bit. Unquantized tensors keep the source's dtype.
#include <gtest/gtest.h>

#include <fstream>

#include "models/builtin.h"
#include "models/llama/hf_checkpoint.h"
#include "models/safetensors.h"
#include "storage/artifact.h"
#include "support/random_fmnist_cnn.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr const char* kMicro = "builtin:tiny-lm-micro";
constexpr int64_t kEvalWindows = 4;

/// The micro LM's cached folder (trained once per build tree, in seconds).
fs::path micro_folder() { return model_files_dir(kMicro, QTUNE_TEST_CACHE_DIR); }

QuantConfig rtn_w4() {
  QuantConfig c;
  c.algorithm = "rtn";
  c.params = {{"bits", 4}, {"group_size", 32}, {"scheme", "asym"}};
  return c;
}

/// A Hugging Face copy of the micro LM with every tensor stored as `dtype`.
void write_micro_copy(const fs::path& dir, at::ScalarType dtype) {
  HfCheckpoint ck = read_hf_checkpoint(micro_folder());
  ck.config.torch_dtype = torch_dtype_name(dtype);
  std::map<std::string, at::Tensor> tensors;
  for (const auto& [name, t] : ck.tensors) tensors[name] = t.to(dtype);
  HfSaveOptions options;
  options.tokenizer_from = micro_folder();
  save_hf_checkpoint(dir, ck.config, tensors, options);
}

double perplexity(const Model& model, const std::string& spec, const fs::path& cache_dir,
                  const fs::path& files_dir = {}) {
  return load_task_data(spec, 0, kEvalWindows, 0, cache_dir, files_dir).evaluate(model).value;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Json read_json_file(const fs::path& p) { return Json::parse(testing::read_bytes(p)); }

TEST(SavedLm, BuiltinSpecMovesAndLoadsWithoutItsCachedFolder) {
  TempDir tmp;
  const fs::path cache = tmp / "cache";
  fs::create_directories(cache);
  fs::copy(micro_folder(), cache / "tiny-lm-micro", fs::copy_options::recursive);
  ModelOptions o;
  o.cache_dir = cache;
  ModelPtr model = load_model(kMicro, o);
  const auto reports = quantize(*model, rtn_w4());
  const double before = perplexity(*model, kMicro, cache);
  save_model(*model, tmp / "saved", rtn_w4(), reports);

  for (const char* f : {"qconfig.json", "model.safetensors", "config.json", "tokenizer.json"})
    EXPECT_TRUE(fs::is_regular_file(tmp / "saved" / f)) << f;
  EXPECT_EQ(read_json_file(tmp / "saved" / "qconfig.json")["source_dtype"], "float32");

  fs::create_directories(tmp / "elsewhere");
  fs::rename(tmp / "saved", tmp / "elsewhere" / "moved");
  fs::remove_all(cache);
  SavedModelInfo info;
  const ModelPtr loaded = load_saved_model(tmp / "elsewhere" / "moved", &info);
  EXPECT_EQ(info.model_spec, kMicro);
  EXPECT_EQ(info.files_dir, tmp / "elsewhere" / "moved");
  const double after = perplexity(*loaded, info.model_spec, cache, info.files_dir);
  EXPECT_EQ(after, before);
  EXPECT_GT(after, 1.0);
  // Nothing was rebuilt from the spec: the cache stayed gone.
  EXPECT_FALSE(fs::exists(cache));
}

class SavedLmDtype : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(SavedLmDtype, KeepsTheSourceDtypeAndSurvivesDeletingTheSource) {
  const at::ScalarType dtype = GetParam();
  const std::string name = torch_dtype_name(dtype);
  TempDir tmp;
  const fs::path src = tmp / "src";
  write_micro_copy(src, dtype);
  const std::string spec = "hf:" + src.string();
  ModelPtr model = load_model(spec);
  EXPECT_EQ(model->source_dtype(), dtype);
  const auto reports = quantize(*model, rtn_w4());
  const double before = perplexity(*model, spec, QTUNE_TEST_CACHE_DIR);
  save_model(*model, tmp / "saved", rtn_w4(), reports);
  fs::rename(tmp / "saved", tmp / "moved");
  fs::remove_all(src);

  const fs::path moved = tmp / "moved";
  EXPECT_EQ(read_json_file(moved / "qconfig.json")["source_dtype"], name);
  EXPECT_EQ(read_json_file(moved / "config.json")["torch_dtype"], name);
  EXPECT_TRUE(fs::is_regular_file(moved / "tokenizer.json"));
  // Quantized layers keep their packed codes and fp32 scales; everything else
  // (embeddings, norms, the fp32 lm_head) is stored as the source stored it.
  int64_t unquantized = 0, quantized = 0;
  for (const auto& [tensor, t] : read_safetensors(moved / "model.safetensors").tensors) {
    if (ends_with(tensor, ".qweight") || ends_with(tensor, ".qzeros")) {
      EXPECT_EQ(t.scalar_type(), at::kInt) << tensor;
      ++quantized;
    } else if (ends_with(tensor, ".scales")) {
      EXPECT_EQ(t.scalar_type(), at::kFloat) << tensor;
    } else {
      EXPECT_EQ(t.scalar_type(), dtype) << tensor;
      ++unquantized;
    }
  }
  EXPECT_GT(quantized, 0);
  EXPECT_GT(unquantized, 2);  // the embeddings, the final norm, lm_head at least

  SavedModelInfo info;
  const ModelPtr loaded = load_saved_model(moved, &info);
  EXPECT_EQ(info.model_spec, spec);
  EXPECT_EQ(info.files_dir, moved);
  EXPECT_EQ(loaded->source_dtype(), dtype);
  EXPECT_EQ(perplexity(*loaded, info.model_spec, QTUNE_TEST_CACHE_DIR, info.files_dir), before);

  // Saved again from the loaded copy: the same files, still without the source.
  save_model(*loaded, tmp / "again", rtn_w4(), reports);
  const ModelPtr again = load_saved_model(tmp / "again", &info);
  EXPECT_EQ(perplexity(*again, info.model_spec, QTUNE_TEST_CACHE_DIR, info.files_dir), before);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SavedLmDtype,
                         ::testing::Values(at::kBFloat16, at::kHalf, at::kFloat),
                         [](const auto& info) { return torch_dtype_name(info.param); });

// A norm that absorbed input scales (as AWQ folds them) is no longer a bf16
// value: rounding it back would change the model, so it alone stays fp32.
TEST(SavedLm, ATensorTheSourceDtypeCannotHoldStaysFp32) {
  TempDir tmp;
  write_micro_copy(tmp / "src", at::kBFloat16);
  ModelPtr model = load_model("hf:" + (tmp / "src").string());
  const std::string norm = "model.layers.0.input_layernorm.weight";
  bool folded = false;
  for (const InputScaleGroup& g : model->input_scale_groups(0)) {
    if (g.producer != norm) continue;
    const int64_t in = model->layer(g.layers.front()).weight().size(1);
    model->fold_input_scales(g, at::linspace(1.1, 1.7, in));
    folded = true;
  }
  ASSERT_TRUE(folded) << "no input scale group produced by " << norm;
  const at::Tensor w = model->extra_tensors().at(norm);
  ASSERT_FALSE(at::equal(w.to(at::kBFloat16).to(at::kFloat), w)) << "the fold left bf16 values";
  save_model(*model, tmp / "saved", QuantConfig{}, {});

  const auto stored = read_safetensors(tmp / "saved" / "model.safetensors").tensors;
  EXPECT_EQ(stored.at(norm).scalar_type(), at::kFloat);
  EXPECT_EQ(stored.at("model.norm.weight").scalar_type(), at::kBFloat16);
  EXPECT_EQ(stored.at("model.layers.1.input_layernorm.weight").scalar_type(), at::kBFloat16);
  const at::Tensor ids = at::arange(3, 40, at::kLong).view({1, -1});
  EXPECT_TRUE(at::equal(load_saved_model(tmp / "saved")->forward(ids), model->forward(ids)));
}

// What qtune wrote before saves were self-contained: no config.json or
// tokenizer beside the weights, fp32 tensors, no source_dtype. It still loads,
// with config and tokenizer from the source its spec names.
TEST(SavedLm, OlderSaveWithoutItsOwnFilesLoadsFromTheSource) {
  TempDir tmp;
  const fs::path src = tmp / "src";
  write_micro_copy(src, at::kFloat);
  const std::string spec = "hf:" + src.string();
  ModelPtr model = load_model(spec);
  const auto reports = quantize(*model, rtn_w4());
  const double before = perplexity(*model, spec, QTUNE_TEST_CACHE_DIR);
  const fs::path old = tmp / "old";
  save_model(*model, old, rtn_w4(), reports);
  int removed = 0;
  for (const std::string& f : hf_tokenizer_files()) removed += fs::remove(old / f) ? 1 : 0;
  ASSERT_GE(removed, 1);
  ASSERT_TRUE(fs::remove(old / "config.json"));
  Json q = read_json_file(old / "qconfig.json");
  ASSERT_EQ(q.erase("source_dtype"), 1u);
  std::ofstream(old / "qconfig.json", std::ios::trunc) << q.dump(2);

  SavedModelInfo info;
  const ModelPtr loaded = load_saved_model(old, &info);
  EXPECT_EQ(info.files_dir, src);
  EXPECT_EQ(perplexity(*loaded, info.model_spec, QTUNE_TEST_CACHE_DIR, info.files_dir), before);
  fs::remove_all(src);
  testing::expect_error([&] { load_saved_model(old); }, src.string());
}

TEST(SavedLm, ABadSourceDtypeIsRefused) {
  TempDir tmp;
  ModelPtr model = testing::random_fmnist_cnn(3);
  save_model(*model, tmp / "m", QuantConfig{}, {});
  Json q = read_json_file(tmp / "m" / "qconfig.json");
  q["source_dtype"] = "float8";
  std::ofstream(tmp / "m" / "qconfig.json", std::ios::trunc) << q.dump(2);
  testing::expect_error([&] { load_saved_model(tmp / "m"); }, "qconfig.json: source_dtype");
}

// The CNN has no config or tokenizer; its fp32 weights stay fp32.
TEST(SavedLm, ClassifierSavesOnlyItsWeights) {
  TempDir tmp;
  ModelPtr model = testing::random_fmnist_cnn(5);
  save_model(*model, tmp / "m", QuantConfig{}, {});
  EXPECT_FALSE(fs::exists(tmp / "m" / "config.json"));
  EXPECT_EQ(read_json_file(tmp / "m" / "qconfig.json")["source_dtype"], "float32");
  const auto stored = read_safetensors(tmp / "m" / "model.safetensors").tensors;
  ASSERT_FALSE(stored.empty());
  for (const auto& [name, t] : stored) EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
  SavedModelInfo info;
  const ModelPtr loaded = load_saved_model(tmp / "m", &info);
  EXPECT_TRUE(info.files_dir.empty());
  at::manual_seed(1);
  const at::Tensor x = at::rand({2, 1, 28, 28});
  EXPECT_TRUE(at::equal(loaded->forward(x), model->forward(x)));
}

}  // namespace
}  // namespace qtune
