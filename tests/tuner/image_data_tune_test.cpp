// A classifier tuned on the user's IDX files: the YAML keys reach the trial
// runner, and files holding the first 300 Fashion-MNIST test images under the
// built-in normalisation give the same baseline as `evaluation: {samples: 300}`.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "models/fmnist/fmnist_data.h"
#include "tests/support/fmnist_idx_files.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tuning_config_error.h"
#include "tuner/autotune.h"
#include "tuner/tuning_config.h"

namespace qtune {
namespace {

using testing::TempDir;
using testing::write_bytes;
using testing::write_fmnist_idx;
using testing::write_fmnist_npy;

using testing::tuning_config_error;

const std::string kSpace =
    "search_space:\n  - algorithm: rtn\n    params: {bits: 8, group_size: 32}\n"
    "latency: {batch: 8, warmup: 1, runs: 20}\nconstraints: {max_accuracy_loss: 0.5}\n";

TuneOptions quiet(const std::filesystem::path& out) {
  TuneOptions o;
  o.out_dir = out;
  o.cache_dir = QTUNE_TEST_CACHE_DIR;
  o.print_table = false;
  return o;
}

TEST(ImageDataTune, IdxFilesGiveTheBuiltinBaselineUnderTheBuiltinNormalisation) {
  TempDir dir;
  write_fmnist_idx(dir / "img", dir / "lab", 300, 300);
  const std::string norm = "normalize: {mean: " + std::to_string(kFmnistMean) +
                           ", std: " + std::to_string(kFmnistStd) + "}";
  const TuningConfig user = parse_tuning_config(
      "model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 16, idx_images: " +
          (dir / "img").string() + ", idx_labels: " + (dir / "lab").string() + ", " + norm +
          "}\nevaluation: {idx_images: " + (dir / "img").string() +
          ", idx_labels: " + (dir / "lab").string() + "}\n" + kSpace,
      "t.yaml");
  EXPECT_EQ(user.image_data.eval_images, (dir / "img").string());
  EXPECT_TRUE(user.image_data.normalize);
  EXPECT_EQ(user.to_json().at("image_data").at("evaluation").at("idx_labels"),
            (dir / "lab").string());
  const TuningConfig builtin = parse_tuning_config(
      "model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 16}\nevaluation: {samples: 300}\n" +
          kSpace,
      "t.yaml");
  const TuneSummary a = run_tuning(user, quiet(dir / "a"));
  const TuneSummary b = run_tuning(builtin, quiet(dir / "b"));
  EXPECT_EQ(a.baseline.at("samples"), 300);
  EXPECT_GT(a.baseline.at("value").get<double>(), 0.3) << "well above chance (0.1)";
  // std::to_string prints 6 decimals: 0.286000 and 0.353000 are the built-in floats.
  EXPECT_EQ(a.baseline.at("value"), b.baseline.at("value"));
  ASSERT_EQ(a.trials.size(), 1u);
  EXPECT_EQ(a.trials[0].status, "COMPLETED") << a.trials[0].error;
}

// The same 300 images as .npy, as uint8 pixels or as float32 ones already
// divided by 255: the baseline of the IDX files and of the built-in set, bit
// for bit.
TEST(ImageDataTune, NpyFilesGiveTheBuiltinBaselineToo) {
  TempDir dir;
  write_fmnist_npy(dir / "u8.npy", dir / "lab.npy", 300, false);
  write_fmnist_npy(dir / "f32.npy", dir / "lab.npy", 300, true);
  const std::string norm = "normalize: {mean: " + std::to_string(kFmnistMean) +
                           ", std: " + std::to_string(kFmnistStd) + "}";
  const auto config = [&](const std::string& images) {
    return parse_tuning_config("model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 16, npy: " +
                                   (dir / images).string() +
                                   ", labels: " + (dir / "lab.npy").string() + ", " + norm +
                                   "}\nevaluation: {npy: " + (dir / images).string() +
                                   ", labels: " + (dir / "lab.npy").string() + "}\n" + kSpace,
                               "t.yaml");
  };
  const TuningConfig u8 = config("u8.npy");
  EXPECT_EQ(u8.image_data.eval_format, "npy");
  EXPECT_EQ(u8.to_json().at("image_data").at("evaluation").at("npy"), (dir / "u8.npy").string());
  const TuningConfig builtin = parse_tuning_config(
      "model: builtin:fmnist-cnn-tiny\ncalibration: {samples: 16}\nevaluation: {samples: 300}\n" +
          kSpace,
      "t.yaml");
  const TuneSummary a = run_tuning(u8, quiet(dir / "a"));
  const TuneSummary b = run_tuning(config("f32.npy"), quiet(dir / "b"));
  const TuneSummary c = run_tuning(builtin, quiet(dir / "c"));
  EXPECT_EQ(a.baseline.at("samples"), 300);
  EXPECT_EQ(a.baseline.at("value"), c.baseline.at("value"));
  EXPECT_EQ(b.baseline.at("value"), c.baseline.at("value"));
  ASSERT_EQ(a.trials.size(), 1u);
  ASSERT_EQ(b.trials.size(), 1u);
  EXPECT_EQ(a.trials[0].accuracy, b.trials[0].accuracy) << "uint8 and float pixels, one model";
}

TEST(ImageDataTune, MisuseNamesTheField) {
  TempDir dir;
  write_bytes(dir / "f", "x");
  const std::string f = (dir / "f").string();
  EXPECT_EQ(tuning_config_error("model: builtin:fmnist-cnn-tiny\nevaluation: {idx_images: " + f +
                                "}\n" + kSpace),
            "t.yaml: evaluation.idx_labels: missing (idx_images and idx_labels go together)");
  EXPECT_EQ(tuning_config_error("model: builtin:tiny-lm-micro\ncalibration: {idx_images: " + f +
                                ", idx_labels: " + f + "}\n" + kSpace),
            "t.yaml: calibration.idx_images: IDX image files are for classifiers; "
            "builtin:tiny-lm-micro is a language model");
  EXPECT_EQ(tuning_config_error("model: builtin:fmnist-cnn-tiny\nevaluation: {npy: " + f + "}\n" +
                                kSpace),
            "t.yaml: evaluation.labels: missing (npy and labels go together)");
  EXPECT_EQ(tuning_config_error("model: builtin:fmnist-cnn-tiny\nevaluation: {npy: " + f +
                                ", labels: " + f + ", idx_images: " + f + ", idx_labels: " + f +
                                "}\n" + kSpace),
            "t.yaml: evaluation: give idx_images/idx_labels or npy/labels, not both");
  EXPECT_EQ(tuning_config_error("model: builtin:tiny-lm-micro\ncalibration: {npy: " + f +
                                ", labels: " + f + "}\n" + kSpace),
            "t.yaml: calibration.npy: .npy image files are for classifiers; "
            "builtin:tiny-lm-micro is a language model");
  EXPECT_EQ(tuning_config_error(
                "model: builtin:fmnist-cnn-tiny\ncalibration: {normalize: {mean: 0.5, std: "
                "0}}\n" +
                kSpace),
            "t.yaml: calibration.normalize.std: expected a number > 0, got 0");
  EXPECT_EQ(
      tuning_config_error("model: builtin:fmnist-cnn-tiny\nevaluation: {idx_images: " + f +
                          ", idx_labels: " + (dir / "none").string() + "}\n" + kSpace),
      "t.yaml: evaluation.idx_labels: " + (dir / "none").string() + ": cannot read the data file");
}

}  // namespace
}  // namespace qtune
