// Tests on the real Fashion-MNIST files with the tiny built-in model (a few
// seconds of training per cache folder). The full model is never trained here.
#include "models/builtin.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "models/weight_cache.h"
#include "models/work_units.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

constexpr const char* kTiny = "builtin:fmnist-cnn-tiny";

// Trained once per test binary; tests that need a fresh training make their own folder.
class TinyModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ModelOptions o;
    o.cache_dir = dir_->path();
    model_ = load_model(kTiny, o).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete dir_;
  }
  static testing::TempDir* dir_;
  static Model* model_;
};
testing::TempDir* TinyModel::dir_ = nullptr;
Model* TinyModel::model_ = nullptr;

std::map<std::string, at::Tensor> weights_of(Model& m) {
  std::map<std::string, at::Tensor> w;
  for (LayerSlot* s : m.layers()) {
    w[s->name() + ".weight"] = s->weight();
    w[s->name() + ".bias"] = *s->bias();
  }
  return w;
}

TEST_F(TinyModel, BeatsChanceOnTheTestSplit) {
  const TaskData data = load_task_data(kTiny, 0, 1000, 0);
  ASSERT_EQ(data.evaluation.size(), 1000);
  const EvalResult r = data.evaluate(*model_);
  EXPECT_EQ(r.samples, 1000);
  EXPECT_GT(r.value, 0.5) << "10 classes: chance is 0.1";
}

TEST_F(TinyModel, AccuracyDoesNotDependOnTheThreadCount) {
  const TaskData data = load_task_data(kTiny, 0, 2000, 0);
  // The batches are work units: one thread against three, under one and two
  // intra-op threads in the caller.
  const int saved = at::get_num_threads();
  at::set_num_threads(1);
  const EvalResult one = data.evaluate(*model_);
  at::set_num_threads(2);
  const EvalResult two = [&] {
    WorkUnitThreadsScope units(3);
    return data.evaluate(*model_);
  }();
  at::set_num_threads(saved);
  EXPECT_EQ(one.value, two.value);
}

TEST_F(TinyModel, SecondLoadReadsTheCache) {
  const auto info = list_builtin_models(dir_->path());
  // fmnist-cnn, fmnist-cnn-tiny, tiny-lm, tiny-lm-micro, llama-1b-shape
  ASSERT_EQ(info.size(), 5u);
  EXPECT_EQ(info[4].spec, "builtin:llama-1b-shape");
  EXPECT_EQ(info[0].spec, "builtin:fmnist-cnn");
  EXPECT_FALSE(info[0].cached);
  EXPECT_EQ(info[1].spec, kTiny);
  EXPECT_TRUE(info[1].cached);
  EXPECT_EQ(info[1].cache_file, dir_->path() / "fmnist-cnn-tiny.bin");

  ModelOptions o;
  o.cache_dir = dir_->path();
  ModelPtr again = load_model(kTiny, o);
  const auto a = weights_of(*model_);
  const auto b = weights_of(*again);
  for (const auto& [name, t] : a) EXPECT_TRUE(t.equal(b.at(name))) << name;
}

TEST_F(TinyModel, TrainingIsDeterministic) {
  // Fresh folder: trains again from the same seed, under another thread count.
  testing::TempDir other;
  ModelOptions o;
  o.cache_dir = other.path();
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  ModelPtr retrained = load_model(kTiny, o);
  EXPECT_EQ(at::get_num_threads(), 2) << "training must restore the caller's thread count";
  at::set_num_threads(saved);
  const auto a = weights_of(*model_);
  const auto b = weights_of(*retrained);
  ASSERT_EQ(a.size(), 8u);
  for (const auto& [name, t] : a) EXPECT_TRUE(t.equal(b.at(name))) << name;
}

TEST_F(TinyModel, CorruptCacheIsAnErrorNamingTheFile) {
  testing::TempDir other;
  const auto file = other.path() / "fmnist-cnn-tiny.bin";
  std::filesystem::copy_file(dir_->path() / "fmnist-cnn-tiny.bin", file);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x7f');
  }
  ModelOptions o;
  o.cache_dir = other.path();
  try {
    load_model(kTiny, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
}

TEST(Builtin, UnknownSpecListsTheKnownOnes) {
  testing::TempDir dir;
  ModelOptions o;
  o.cache_dir = dir.path();
  try {
    load_model("builtin:mnist", o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown model \"builtin:mnist\" (known: builtin:fmnist-cnn, "
              "builtin:fmnist-cnn-tiny, builtin:tiny-lm, builtin:tiny-lm-micro, "
              "builtin:llama-1b-shape, hf:DIR, torchscript:FILE)");
  }
  EXPECT_THROW(load_task_data("builtin:mnist", 0, 10, 0), Error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "nothing is written for a bad spec";
}

TEST(Builtin, DefaultCacheDirFollowsXdg) {
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", "/tmp/xdg-test", 1);
  EXPECT_EQ(default_cache_dir(), std::filesystem::path("/tmp/xdg-test/qtune"));
  unsetenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (home && *home) EXPECT_EQ(default_cache_dir(), std::filesystem::path(home) / ".cache/qtune");
  if (old) setenv("XDG_CACHE_HOME", saved.c_str(), 1);
}

TEST(TaskData, CalibrationIsASeededDrawFromTheTrainingSplit) {
  const TaskData a = load_task_data(kTiny, 64, 100, 11);
  const TaskData b = load_task_data(kTiny, 64, 100, 11);
  const TaskData c = load_task_data(kTiny, 64, 100, 12);
  ASSERT_EQ(a.calibration.size(), 64);
  EXPECT_EQ(a.calibration.inputs.sizes(), (std::vector<int64_t>{64, 1, 28, 28}));
  EXPECT_EQ(a.calibration.inputs.scalar_type(), at::kFloat);
  EXPECT_TRUE(a.calibration.inputs.equal(b.calibration.inputs));
  EXPECT_TRUE(a.calibration.labels.equal(b.calibration.labels));
  EXPECT_FALSE(a.calibration.inputs.equal(c.calibration.inputs));
  // Draws without replacement: no image appears twice.
  const at::Tensor flat = a.calibration.inputs.view({64, -1});
  EXPECT_EQ(std::get<0>(at::unique_dim(flat, 0)).size(0), 64);
  // Labels span several classes (a seeded permutation, not the first rows of one class).
  EXPECT_GT(std::get<0>(at::_unique(a.calibration.labels)).size(0), 5);
}

TEST(TaskData, EvaluationIsTheHeadOfTheTestSplitNormalised) {
  const TaskData all = load_task_data(kTiny, 0, 0, 0);
  ASSERT_EQ(all.evaluation.size(), 10000);
  EXPECT_EQ(all.calibration.size(), 0);
  const TaskData head = load_task_data(kTiny, 0, 300, 0);
  ASSERT_EQ(head.evaluation.size(), 300);
  EXPECT_TRUE(head.evaluation.inputs.equal(all.evaluation.inputs.slice(0, 0, 300)));
  // Known facts of the Fashion-MNIST test split: its first label is 9 (ankle
  // boot), and pixel 0 is 0, normalised to -mean/std.
  EXPECT_EQ(all.evaluation.labels[0].item<int64_t>(), 9);
  EXPECT_FLOAT_EQ(all.evaluation.inputs[0][0][0][0].item<float>(), -0.2860f / 0.3530f);
  const double mean = all.evaluation.inputs.mean().item<double>();
  EXPECT_NEAR(mean, 0.0, 0.05) << "normalised with the training split's statistics";

  EXPECT_THROW(load_task_data(kTiny, -1, 10, 0), Error);
  EXPECT_THROW(load_task_data(kTiny, 0, 10001, 0), Error);
  EXPECT_THROW(load_task_data(kTiny, 60001, 10, 0), Error);
}

TEST(TaskData, MissingDataFolderIsAnErrorNamingTheFile) {
  testing::TempDir empty;
  setenv("QTUNE_FMNIST_DIR", empty.path().c_str(), 1);
  try {
    load_task_data(kTiny, 0, 10, 0);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(empty.path().string()), std::string::npos) << e.what();
  }
  unsetenv("QTUNE_FMNIST_DIR");
}

TEST(WeightCache, RoundTripsAndRejectsDamage) {
  testing::TempDir dir;
  const auto file = dir.path() / "sub" / "w.bin";
  WeightCache in{"recipe v1",
                 {{"a.weight", at::arange(6, at::kFloat).view({2, 3})},
                  {"b", at::full({1}, -2.5f)},
                  {"empty", at::empty({0, 4})}}};
  write_weight_cache(file, in);
  const WeightCache out = read_weight_cache(file);
  EXPECT_EQ(out.tag, "recipe v1");
  ASSERT_EQ(out.tensors.size(), 3u);
  for (const auto& [name, t] : in.tensors) EXPECT_TRUE(t.equal(out.tensors.at(name))) << name;
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(file.parent_path()),
                          std::filesystem::directory_iterator()),
            1);

  std::ifstream f(file, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto expect_rejected = [&](const std::string& bytes, const std::string& fragment) {
    const auto bad = dir.path() / "bad.bin";
    std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
    try {
      read_weight_cache(bad);
      ADD_FAILURE() << "accepted: " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_rejected(good.substr(0, good.size() - 3), "checksum");
  expect_rejected(good.substr(0, 5), "bad magic");
  expect_rejected("", "bad magic");
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  expect_rejected(flipped, "checksum");
  EXPECT_THROW(read_weight_cache(dir.path() / "absent.bin"), Error);
}

}  // namespace
}  // namespace qtune
