// A classifier's calibration and evaluation from the user's IDX files
// (models/user_data.h, ImageDataOptions): the first 100 Fashion-MNIST test
// images copied to plain IDX files read back to the built-in inputs bit for
// bit under the built-in normalisation, to pixels / 255 without it, and
// calibration rows are rows of the file drawn with the seed.
#include <gtest/gtest.h>

#include <string>

#include "models/fmnist/fmnist_data.h"
#include "models/user_data.h"
#include "tests/support/expect_error.h"
#include "tests/support/fmnist_idx_files.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;
using testing::write_fmnist_idx;

constexpr const char* kSpec = "builtin:fmnist-cnn-tiny";

TEST(IdxUserData, EvaluationFromFilesMatchesTheBuiltinSplit) {
  TempDir dir;
  write_fmnist_idx(dir / "img", dir / "lab", 100, 100);
  ImageDataOptions o;
  o.eval_images = (dir / "img").string();
  o.eval_labels = (dir / "lab").string();
  o.normalize = true;
  o.mean = kFmnistMean;
  o.std = kFmnistStd;
  const TaskData builtin = load_task_data(kSpec, 0, 100, 0, QTUNE_TEST_CACHE_DIR);
  const TaskData user = load_task_data(kSpec, 0, 0, 0, QTUNE_TEST_CACHE_DIR, {}, {}, o);
  ASSERT_EQ(user.evaluation.size(), 100);
  EXPECT_TRUE(at::equal(user.evaluation.inputs, builtin.evaluation.inputs));
  EXPECT_TRUE(at::equal(user.evaluation.labels, builtin.evaluation.labels));

  // Without normalize: pixels / 255 in [0, 1], float32 [N, 1, 28, 28].
  o.normalize = false;
  const TaskData plain = load_task_data(kSpec, 0, 7, 0, QTUNE_TEST_CACHE_DIR, {}, {}, o);
  ASSERT_EQ(plain.evaluation.inputs.sizes().vec(), (std::vector<int64_t>{7, 1, 28, 28}));
  const at::Tensor raw = load_fmnist_split_raw("t10k").inputs.slice(0, 0, 7);
  EXPECT_TRUE(at::equal(plain.evaluation.inputs.squeeze(1), raw.to(at::kFloat) / 255.0f));
  EXPECT_GT(plain.evaluation.inputs.max().item<float>(), 0.5f) << "not all dark";
  EXPECT_LE(plain.evaluation.inputs.max().item<float>(), 1.0f);
}

TEST(IdxUserData, CalibrationRowsAreDrawnFromTheFile) {
  TempDir dir;
  write_fmnist_idx(dir / "img", dir / "lab", 40, 40);
  ImageDataOptions o;
  o.calibration_images = (dir / "img").string();
  o.calibration_labels = (dir / "lab").string();
  const TaskData d = load_task_data(kSpec, 16, 5, 3, QTUNE_TEST_CACHE_DIR, {}, {}, o);
  ASSERT_EQ(d.calibration.size(), 16);
  const Dataset test = load_fmnist_split_raw("t10k");
  const at::Tensor file_rows = test.inputs.slice(0, 0, 40).to(at::kFloat) / 255.0f;
  int64_t distinct = 0;
  std::vector<bool> used(40, false);
  for (int64_t r = 0; r < 16; ++r) {
    int64_t found = -1;
    for (int64_t i = 0; i < 40 && found < 0; ++i)
      if (at::equal(d.calibration.inputs[r][0], file_rows[i]) &&
          d.calibration.labels[r].item<int64_t>() == test.labels[i].item<int64_t>())
        found = i;
    ASSERT_GE(found, 0) << "calibration row " << r << " is no row of the file";
    distinct += used[found] ? 0 : 1;
    used[found] = true;
  }
  EXPECT_EQ(distinct, 16) << "rows are drawn without replacement";
  // The same seed draws the same rows; the evaluation stays the built-in split.
  EXPECT_TRUE(
      at::equal(load_task_data(kSpec, 16, 5, 3, QTUNE_TEST_CACHE_DIR, {}, {}, o).calibration.inputs,
                d.calibration.inputs));
  EXPECT_TRUE(at::equal(d.evaluation.inputs,
                        load_task_data(kSpec, 0, 5, 0, QTUNE_TEST_CACHE_DIR).evaluation.inputs));
  expect_error(
      [&] { load_task_data(kSpec, 41, 5, 3, QTUNE_TEST_CACHE_DIR, {}, {}, o); },
      "calibration samples must be <= 40 (the images in " + o.calibration_images + "), got 41");
}

TEST(IdxUserData, BadFilesAndWrongModel) {
  TempDir dir;
  write_fmnist_idx(dir / "img", dir / "lab", 12, 11);
  ImageDataOptions o;
  o.eval_images = (dir / "img").string();
  o.eval_labels = (dir / "lab").string();
  expect_error([&] { load_task_data(kSpec, 0, 0, 0, QTUNE_TEST_CACHE_DIR, {}, {}, o); },
               o.eval_labels + ": 11 labels for 12 images in " + o.eval_images);
  expect_error(
      [&] { load_task_data("builtin:tiny-lm-micro", 0, 0, 0, QTUNE_TEST_CACHE_DIR, {}, {}, o); },
      "builtin:tiny-lm-micro: IDX image files are for classifiers; this is a language model");
}

}  // namespace
}  // namespace qtune
