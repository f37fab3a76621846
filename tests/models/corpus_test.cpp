// The bible corpus (reference stripping, whitespace, the split) and the token
// windows drawn from a corpus for LM calibration.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "models/text/bible_corpus.h"
#include "models/text/lm_calibration.h"
#include "tests/support/expect_error.h"

namespace qtune {
namespace {

using testing::expect_error;

TEST(BibleCorpus, CleanStripsReferencesAndNormalisesWhitespace) {
  const std::string raw =
      "Ge1:1 In the beginning God created the heaven and the earth.\n"
      "Josh7:2 And Joshua sent men.  And the men went up.\n"
      "\n"
      "1Sm3:4 That the LORD called Samuel:\tand he answered, Here am I. \n"
      "SSol1:1 The song of songs, which is Solomon's.\n"
      "Rev22:21 The grace of our Lord Jesus Christ be with you all. Amen.";
  EXPECT_EQ(clean_bible_output(raw),
            "In the beginning God created the heaven and the earth.\n"
            "And Joshua sent men. And the men went up.\n"
            "That the LORD called Samuel: and he answered, Here am I.\n"
            "The song of songs, which is Solomon's.\n"
            "The grace of our Lord Jesus Christ be with you all. Amen.\n");
  expect_error([] { clean_bible_output("Ge1:1 fine\nno reference here\n"); },
               "line 2 has no verse reference: 'no reference here'");
  expect_error([] { clean_bible_output("Ge1: missing verse\n"); }, "line 1");
}

TEST(BibleCorpus, SplitInterleavesChunks) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "v" + std::to_string(i) + "\n";
  auto s = split_text(text, 2);
  // Chunks of 2 lines; of each 20 chunks, chunk 18 (lines 36-37) is
  // calibration and chunk 19 (lines 38-39) held-out.
  EXPECT_EQ(s.calibration, "v36\nv37\nv76\nv77\n");
  EXPECT_EQ(s.heldout, "v38\nv39\nv78\nv79\n");
  EXPECT_EQ(s.train.substr(0, 8), "v0\nv1\nv2");
  EXPECT_EQ(s.train.size() + s.calibration.size() + s.heldout.size(), text.size());
  EXPECT_EQ(s.train.find("v36\n"), std::string::npos);
  expect_error([&] { split_text(text, 0); }, "lines_per_chunk must be >= 1, got 0");
}

TEST(BibleCorpus, RealTextFromBibleKjv) {
  const std::string& t = bible_text();
  EXPECT_EQ(&t, &bible_text());  // cached: the same string, not a second run
  const std::string first = "In the beginning God created the heaven and the earth.\n";
  EXPECT_EQ(t.substr(0, first.size()), first);
  const std::string last = "The grace of our Lord Jesus Christ be with you all. Amen.\n";
  ASSERT_GE(t.size(), last.size());
  EXPECT_EQ(t.substr(t.size() - last.size()), last);
  EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 31102);  // the verses of the KJV
  EXPECT_EQ(t.find("  "), std::string::npos);
  EXPECT_EQ(t.find(":1 "), std::string::npos);  // no "Ge1:1 "-style reference left
  const auto& s = bible_splits();
  const double n = static_cast<double>(t.size());
  EXPECT_NEAR(s.train.size() / n, 0.90, 0.01);
  EXPECT_NEAR(s.calibration.size() / n, 0.05, 0.01);
  EXPECT_NEAR(s.heldout.size() / n, 0.05, 0.01);
  EXPECT_EQ(s.train.size() + s.calibration.size() + s.heldout.size(), t.size());
}

TEST(LmCalibration, WindowsAreSlicesOfTheStreamAndDependOnTheSeed) {
  std::vector<int64_t> stream(1000);
  std::iota(stream.begin(), stream.end(), 5000);  // value = 5000 + position
  auto w = sample_token_windows(stream, 16, 32, 7);
  ASSERT_EQ(w.sizes(), (at::IntArrayRef{16, 32}));
  ASSERT_EQ(w.scalar_type(), at::kLong);
  std::set<int64_t> starts;
  for (int64_t i = 0; i < 16; ++i) {
    const int64_t start = w[i][0].item<int64_t>() - 5000;
    ASSERT_GE(start, 0);
    ASSERT_LE(start, 1000 - 32);
    starts.insert(start);
    for (int64_t j = 0; j < 32; ++j) ASSERT_EQ(w[i][j].item<int64_t>(), stream[start + j]);
  }
  EXPECT_GT(starts.size(), 10u);  // 16 draws from 969 starts rarely collide
  EXPECT_TRUE(at::equal(w, sample_token_windows(stream, 16, 32, 7)));
  EXPECT_FALSE(at::equal(w, sample_token_windows(stream, 16, 32, 8)));
}

TEST(LmCalibration, StreamOfExactlyOneWindow) {
  std::vector<int64_t> stream = {3, 1, 4, 1, 5};
  auto w = sample_token_windows(stream, 3, 5, 1);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(at::equal(w[i], at::tensor(std::vector<int64_t>{3, 1, 4, 1, 5}, at::kLong)));
  expect_error([&] { sample_token_windows(stream, 3, 6, 1); },
               "the token stream has 5 tokens, fewer than one window of 6");
  expect_error([&] { sample_token_windows(stream, 0, 2, 1); }, "must be >= 1, got 0");
}

TEST(LmCalibration, ConsecutiveWindows) {
  std::vector<int64_t> stream(10);
  std::iota(stream.begin(), stream.end(), 0);
  auto w = consecutive_token_windows(stream, 3);
  EXPECT_TRUE(at::equal(w, at::arange(9, at::kLong).view({3, 3})));
  EXPECT_EQ(consecutive_token_windows(stream, 3, 2).size(0), 2);
  expect_error([&] { consecutive_token_windows(stream, 11); }, "fewer than one window of 11");
}

}  // namespace
}  // namespace qtune
