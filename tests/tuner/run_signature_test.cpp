// The run signature: content hashes of the model's weight files and of the
// task data, and --resume refusing a run whose model or data changed.
#include "tuner/run_signature.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"
#include "models/builtin.h"
#include "models/weight_cache.h"
#include "tests/support/temp_dir.h"
#include "tuner/autotune.h"
#include "tuner/trial.h"

namespace qtune {
namespace {

const std::filesystem::path kCache = QTUNE_TEST_CACHE_DIR;
using testing::TempDir;

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

TEST(RunSignature, StreamingHashEqualsTheOneShotHashInAnyChunking) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>((i * 37 + 11) % 256));
  for (size_t chunk : {1, 3, 7, 64, 999, 1000}) {
    Fnv1a64 h;
    for (size_t at = 0; at < text.size(); at += chunk)
      h.update(text.data() + at, std::min(chunk, text.size() - at));
    EXPECT_EQ(h.hex(), fnv1a_hex(text)) << chunk;
  }
  EXPECT_EQ(Fnv1a64().hex(), "cbf29ce484222325");
}

TEST(RunSignature, FilesHashIsTheirBytesInOrder) {
  TempDir dir;
  std::string big(3 << 20, 'q');  // more than one read buffer
  big[12345] = 'x';
  write_text(dir.path() / "a", big);
  write_text(dir.path() / "b", "tail");
  EXPECT_EQ(files_hash({dir.path() / "a", dir.path() / "b"}), fnv1a_hex(big + "tail"));
  EXPECT_NE(files_hash({dir.path() / "b", dir.path() / "a"}), fnv1a_hex(big + "tail"));
  try {
    files_hash({dir.path() / "missing"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              (dir.path() / "missing").string() + ": cannot read the file to hash it");
  }
}

TEST(RunSignature, TensorsHashSeesValuesShapesAndTypes) {
  const at::Tensor a = at::arange(24, at::kFloat).view({4, 6});
  const std::string h = tensors_hash({a, at::Tensor()});
  EXPECT_EQ(h, tensors_hash({a.clone(), at::Tensor()}));
  EXPECT_EQ(h, tensors_hash({a.t().contiguous().t(), at::Tensor()})) << "layout is not content";
  at::Tensor b = a.clone();
  b[3][5] = 23.5f;
  EXPECT_NE(h, tensors_hash({b, at::Tensor()}));
  EXPECT_NE(h, tensors_hash({a.view({6, 4}), at::Tensor()}));
  EXPECT_NE(h, tensors_hash({a.to(at::kInt), at::Tensor()}));
  EXPECT_NE(h, tensors_hash({a}));
}

TEST(RunSignature, ChangeNamesWhatDiffers) {
  const Json was{{"model_hash", "aaaa"}, {"data_hash", "dddd"}};
  EXPECT_EQ(signature_change(was, was), "");
  EXPECT_EQ(signature_change(was, {{"model_hash", "bbbb"}, {"data_hash", "dddd"}}),
            "the model's weights changed (content hash bbbb now, aaaa when the run started)");
  EXPECT_EQ(signature_change(was, {{"model_hash", "aaaa"}, {"data_hash", "eeee"}}),
            "the data changed (content hash eeee now, dddd when the run started)");
  EXPECT_EQ(signature_change(was, {{"model_hash", "bbbb"}, {"data_hash", "eeee"}}),
            "the model's weights changed (content hash bbbb now, aaaa when the run started); "
            "the data changed (content hash eeee now, dddd when the run started)");
  // Unknown on either side: nothing to compare.
  EXPECT_EQ(signature_change(Json(), was), "");
  EXPECT_EQ(signature_change({{"model_hash", "aaaa"}}, {{"data_hash", "eeee"}}), "");
}

TEST(RunSignature, BuiltinClassifierIsItsCacheFile) {
  const auto files = model_weight_files("builtin:fmnist-cnn-tiny", kCache);
  ASSERT_EQ(files.size(), 1u);
  for (const BuiltinInfo& info : list_builtin_models(kCache))
    if (info.spec == "builtin:fmnist-cnn-tiny") EXPECT_EQ(files[0], info.cache_file);
}

// A test cache of its own holding the tiny model's weights, a run in it, and
// what resuming that run says.
class ResumeSignature : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const BuiltinInfo& info : list_builtin_models(kCache))
      if (info.spec == "builtin:fmnist-cnn-tiny") weights_ = info.cache_file;
    ASSERT_TRUE(std::filesystem::exists(weights_)) << "run test_models first: " << weights_;
    cache_file_ = cache_.path() / weights_.lexically_relative(kCache);
    std::filesystem::create_directories(cache_file_.parent_path());
    std::filesystem::copy_file(weights_, cache_file_);
  }

  TuningConfig config() const {
    return parse_tuning_config(
        "model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 32}\nevaluation: {samples: 200}\n"
        "search_space:\n  - algorithm: rtn\n    params: {bits: [8, 4], group_size: 32}\n"
        "objective: size\nmax_trials: 2\nseed: 3\nlatency: {batch: 8, warmup: 1, runs: 20}\n",
        "t.yaml");
  }

  TuneOptions options(bool resume) const {
    TuneOptions o;
    o.out_dir = out_.path();
    o.cache_dir = cache_.path();
    o.print_table = false;
    o.resume = resume;
    return o;
  }

  // The run's error on --resume, or "" when it resumed.
  std::string resume_error() {
    try {
      run_tuning(config(), options(true));
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }

  std::string refusal(const std::string& what, const std::string& now, const std::string& was) {
    return (out_.path() / "results.db").string() + ": cannot resume run 1: " + what +
           " changed (content hash " + now + " now, " + was + " when the run started)";
  }

  Json stored_signature() {
    ResultsDb db(out_.path() / "results.db", ResultsDb::Mode::kReadOnly);
    return db.run_signature(1).value_or(Json());
  }

  TempDir cache_, out_, data_;
  std::filesystem::path weights_, cache_file_;
};

TEST_F(ResumeSignature, SameModelAndDataResume) {
  run_tuning(config(), options(false));
  const Json sig = stored_signature();
  EXPECT_EQ(sig["model_hash"], files_hash({cache_file_}));
  EXPECT_EQ(sig["data_hash"].get<std::string>().size(), 16u);
  EXPECT_EQ(resume_error(), "");
  EXPECT_EQ(stored_signature(), sig);
}

TEST_F(ResumeSignature, ChangedWeightsAreRefused) {
  run_tuning(config(), options(false));
  const std::string was = stored_signature()["model_hash"];
  WeightCache w = read_weight_cache(cache_file_);
  ASSERT_FALSE(w.tensors.empty());
  at::Tensor& first = w.tensors.begin()->second;
  first.view(-1)[0] += 0.001f;
  write_weight_cache(cache_file_, w);
  const std::string now = files_hash({cache_file_});
  ASSERT_NE(now, was);
  EXPECT_EQ(resume_error(), refusal("the model's weights", now, was));
  ResultsDb db(out_.path() / "results.db", ResultsDb::Mode::kReadOnly);
  EXPECT_EQ(db.trials(1).size(), 2u) << "a refused resume runs nothing";
}

TEST_F(ResumeSignature, ChangedDataAreRefused) {
  run_tuning(config(), options(false));
  const std::string was = stored_signature()["data_hash"];
  // Another test split: the training files stand in for it.
  const std::filesystem::path real = "/usr/share/datasets/fashion-mnist";
  const char* env = std::getenv("QTUNE_FMNIST_DIR");
  const std::filesystem::path src = env && *env ? env : real;
  for (const char* kind : {"images-idx3", "labels-idx1"}) {
    const std::string train = std::string("train-") + kind + "-ubyte.gz";
    std::filesystem::copy_file(src / train, data_.path() / train);
    std::filesystem::copy_file(src / train,
                               data_.path() / (std::string("t10k-") + kind + "-ubyte.gz"));
  }
  const std::string previous = env ? env : "";
  ::setenv("QTUNE_FMNIST_DIR", data_.path().c_str(), 1);
  const std::string error = resume_error();
  if (env)
    ::setenv("QTUNE_FMNIST_DIR", previous.c_str(), 1);
  else
    ::unsetenv("QTUNE_FMNIST_DIR");
  const std::string prefix = (out_.path() / "results.db").string() +
                             ": cannot resume run 1: the data changed (content hash ";
  EXPECT_EQ(error.substr(0, prefix.size()), prefix) << error;
  EXPECT_NE(error.find(", " + was + " when the run started)"), std::string::npos) << error;
}

TEST_F(ResumeSignature, RunFromBeforeSignaturesResumesAndGetsOne) {
  run_tuning(config(), options(false));
  {
    // What a version-1 database holds: no signature table at all.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((out_.path() / "results.db").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "DROP TABLE run_signatures; UPDATE schema_version SET version = 1;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  EXPECT_EQ(stored_signature(), Json()) << "read-only, version 1: no table, no signature";
  EXPECT_EQ(resume_error(), "");
  EXPECT_EQ(stored_signature()["model_hash"], files_hash({cache_file_}));
}

}  // namespace
}  // namespace qtune
