// SentencePiece: a tiny model trained with the library's own trainer (through
// the isolated module), encoded and decoded through qtune's wrapper, in a
// process that also has LibTorch loaded (the case that used to crash).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "models/text/sentencepiece_tokenizer.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

const char* kCorpus =
    "In the beginning God created the heaven and the earth.\n"
    "And the earth was without form, and void; and darkness was upon the face of the deep.\n"
    "And the Spirit of God moved upon the face of the waters.\n"
    "And God said, Let there be light: and there was light.\n"
    "And God saw the light, that it was good: and God divided the light from the darkness.\n"
    "And God called the light Day, and the darkness he called Night.\n"
    "And the evening and the morning were the first day.\n";

class SentencePieceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // LibTorch (and its protobuf) is loaded and used before SentencePiece.
    ASSERT_EQ(at::ones({3}).sum().item<float>(), 3.0f);
    dir_ = new testing::TempDir();
    testing::write_bytes(*dir_ / "corpus.txt", kCorpus);
    // byte_fallback: bytes the model never saw still round-trip (as <0x..> pieces).
    train_sentencepiece("--input=" + (*dir_ / "corpus.txt").string() +
                        " --model_prefix=" + (*dir_ / "tokenizer").string() +
                        " --vocab_size=320 --hard_vocab_limit=false --model_type=bpe"
                        " --byte_fallback=true --character_coverage=1.0 --minloglevel=2"
                        " --num_threads=1");
  }
  static void TearDownTestSuite() { delete dir_; }
  static testing::TempDir* dir_;
};
testing::TempDir* SentencePieceTest::dir_ = nullptr;

TEST_F(SentencePieceTest, RoundTripsAndSegmentsTheText) {
  SentencePieceTokenizer t(*dir_ / "tokenizer.model");
  EXPECT_EQ(t.kind(), "sentencepiece");
  EXPECT_GT(t.vocab_size(), 259);  // 3 control/unknown + 256 byte pieces + merges
  for (const std::string text : {"And God said, Let there be light.", "the face of the waters",
                                 "Zebra quux \xE4\xBD\xA0\xE5\xA5\xBD"}) {
    auto ids = t.encode(text);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(t.decode(ids), text);
    for (auto id : ids) EXPECT_TRUE(id >= 0 && id < t.vocab_size());
  }
  // Merges were learnt: a frequent word is fewer pieces than letters.
  EXPECT_LT(t.encode("the darkness").size(), 12u);  // 12 characters
  EXPECT_EQ(t.encode("the darkness"), t.encode("the darkness"));
  EXPECT_EQ(t.bos_id(), std::optional<int64_t>(1));  // the trainer's defaults: unk 0, <s> 1, </s> 2
  EXPECT_EQ(t.eos_id(), std::optional<int64_t>(2));
}

TEST_F(SentencePieceTest, TokenBytesCountTheTextOncePlusTheDummyPrefix) {
  SentencePieceTokenizer t(*dir_ / "tokenizer.model");
  // Unseen letters go through byte fallback: each <0x..> piece is one byte.
  const std::string text = "And the earth was without form Zq \xC3\xA9";
  int64_t bytes = 0;
  for (auto id : t.encode(text)) bytes += t.token_bytes(id);
  // The leading "▁" SentencePiece adds to the first word counts as one byte.
  EXPECT_EQ(bytes, static_cast<int64_t>(text.size()) + 1);
  EXPECT_EQ(t.token_bytes(*t.bos_id()), 0);
  EXPECT_EQ(t.token_to_id("<s>"), t.bos_id());
  EXPECT_EQ(t.token_to_id("no-such-piece"), std::nullopt);
}

TEST_F(SentencePieceTest, LoadTokenizerFindsTheModelFile) {
  testing::TempDir dir;
  std::filesystem::copy_file(*dir_ / "tokenizer.model", dir / "tokenizer.model");
  auto t = load_tokenizer(dir.path());
  EXPECT_EQ(t->kind(), "sentencepiece");
  EXPECT_EQ(t->decode(t->encode("the darkness")), "the darkness");
  // A tokenizer.json that is not byte-level falls back to tokenizer.model.
  testing::write_bytes(dir / "tokenizer.json",
                       R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                           "pre_tokenizer": {"type": "Metaspace"}})");
  EXPECT_EQ(load_tokenizer(dir.path())->kind(), "sentencepiece");
}

TEST(SentencePiece, BadFilesNameThemselves) {
  testing::TempDir dir;
  testing::expect_error([&] { SentencePieceTokenizer t(dir / "tokenizer.model"); },
                        (dir / "tokenizer.model").string());
  testing::write_bytes(dir / "tokenizer.model", "garbage, not a protobuf");
  testing::expect_error([&] { SentencePieceTokenizer t(dir / "tokenizer.model"); },
                        "not a SentencePiece model");
  testing::expect_error([&] { train_sentencepiece("--input=/nonexistent/x.txt --model_prefix=m"); },
                        "SentencePiece training failed");
}

}  // namespace
}  // namespace qtune
