// BPE training: a case worked by hand, agreement with a plain slow reference
// (recount every pair after every merge), and round trips through the
// tokenizer.json it writes.
#include "models/text/bpe_trainer.h"

#include <gtest/gtest.h>

#include <map>

#include "models/text/bpe_tokenizer.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using Merges = std::vector<std::pair<std::string, std::string>>;

// The obvious algorithm: after each merge, count all adjacent pairs again.
Merges reference_merges(const std::string& text, int64_t n_merges, int64_t min_frequency) {
  std::map<std::string, int64_t> counts;
  for (auto& p : RegexSplitter(kGpt2SplitPattern).split(text)) ++counts[p];
  std::vector<std::pair<std::vector<int64_t>, int64_t>> words;
  for (auto& [p, c] : counts) {
    std::vector<int64_t> s;
    for (unsigned char ch : p) s.push_back(ch);
    words.emplace_back(s, c);
  }
  std::vector<std::string> bytes_of;
  for (int b = 0; b < 256; ++b) bytes_of.push_back(std::string(1, char(b)));
  Merges merges;
  while (static_cast<int64_t>(merges.size()) < n_merges) {
    std::map<std::pair<int64_t, int64_t>, int64_t> pairs;  // ordered: ties go to the smallest
    for (auto& [s, c] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += c;
    std::pair<int64_t, int64_t> best{-1, -1};
    int64_t best_count = 0;
    for (auto& [p, c] : pairs)
      if (c > best_count) best = p, best_count = c;
    if (best_count < min_frequency || best_count == 0) break;
    const std::string merged = bytes_of[best.first] + bytes_of[best.second];
    int64_t id = std::find(bytes_of.begin(), bytes_of.end(), merged) - bytes_of.begin();
    if (id == static_cast<int64_t>(bytes_of.size())) bytes_of.push_back(merged);
    merges.emplace_back(byte_level_encode(bytes_of[best.first]),
                        byte_level_encode(bytes_of[best.second]));
    for (auto& [s, c] : words) {
      std::vector<int64_t> next;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == best.first && s[i + 1] == best.second) {
          next.push_back(id);
          ++i;
        } else {
          next.push_back(s[i]);
        }
      }
      s = next;
    }
  }
  return merges;
}

const char* kText =
    "In the beginning God created the heaven and the earth. And the earth was without form, "
    "and void; and darkness was upon the face of the deep. And the Spirit of God moved upon "
    "the face of the waters. And God said, Let there be light: and there was light. And God "
    "saw the light, that it was good: and God divided the light from the darkness. And God "
    "called the light Day, and the darkness he called Night. And the evening and the morning "
    "were the first day. aaaa aaaa bbbb 1111 1111\n\n";

TEST(BpeTrainer, HandWorkedMerges) {
  // One piece "aaabdaaabac": pairs aa:4 ab:2 then, after "a a", (aa,a):2 and
  // (a,b):2 tie and (a,b) has the smaller ids (97,98) < (256,97); then (aa,ab):2.
  BpeTrainOptions o;
  o.vocab_size = 300;
  auto m = train_bpe("aaabdaaabac", o);
  EXPECT_EQ(m.merges, (Merges{{"a", "a"}, {"a", "b"}, {"aa", "ab"}}));
  ASSERT_EQ(m.vocab.size(), 256u + 3 + 1);
  EXPECT_EQ(m.vocab[256], "aa");
  EXPECT_EQ(m.vocab[258], "aaab");
  EXPECT_EQ(m.vocab.back(), "<|endoftext|>");
  EXPECT_EQ(m.vocab[' '], "Ġ");
}

TEST(BpeTrainer, MatchesSlowReference) {
  for (int64_t merges : {1, 10, 60, 150}) {
    BpeTrainOptions o;
    o.vocab_size = 256 + merges + 1;
    o.min_frequency = 2;
    auto m = train_bpe(kText, o);
    auto want = reference_merges(kText, merges, 2);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(m.merges, want) << merges << " merges";
  }
}

TEST(BpeTrainer, StopsAtMinFrequencyWithSmallerVocab) {
  BpeTrainOptions o;
  o.vocab_size = 100000;
  o.min_frequency = 3;
  auto m = train_bpe(kText, o);
  EXPECT_EQ(m.merges, reference_merges(kText, 100000, 3));
  EXPECT_LT(static_cast<int64_t>(m.vocab.size()), o.vocab_size);
}

// The text runs out of pairs: the same merges as without padding, then
// reserved special tokens up to exactly vocab_size, which load and round-trip.
TEST(BpeTrainer, PadsWithReservedTokensToTheExactSize) {
  BpeTrainOptions o;
  o.vocab_size = 5000;
  o.min_frequency = 3;
  const BpeModel plain = train_bpe(kText, o);
  o.pad_with_reserved = true;
  const BpeModel m = train_bpe(kText, o);
  EXPECT_EQ(m.merges, plain.merges);
  ASSERT_EQ(static_cast<int64_t>(m.vocab.size()), 5000);
  const int64_t reserved = 5000 - static_cast<int64_t>(plain.vocab.size());
  ASSERT_GT(reserved, 0) << "the text must run out of pairs for this test to mean anything";
  ASSERT_EQ(static_cast<int64_t>(m.special_tokens.size()), 1 + reserved);
  EXPECT_EQ(m.special_tokens[0], "<|endoftext|>");
  EXPECT_EQ(m.special_tokens[1], "<|reserved_0|>");
  EXPECT_EQ(m.vocab.back(), "<|reserved_" + std::to_string(reserved - 1) + "|>");
  testing::TempDir dir;
  write_tokenizer_json(m, dir / "tokenizer.json");
  auto t = load_tokenizer(dir.path());
  EXPECT_EQ(t->vocab_size(), 5000);
  EXPECT_EQ(t->token_to_id("<|reserved_0|>"), std::optional<int64_t>(plain.vocab.size()));
  EXPECT_EQ(t->decode(t->encode(kText)), std::string(kText));
  // Enough pairs: no padding at all.
  o.vocab_size = 256 + 10 + 1;
  o.min_frequency = 2;
  EXPECT_EQ(train_bpe(kText, o).special_tokens, std::vector<std::string>{"<|endoftext|>"});
}

TEST(BpeTrainer, WrittenTokenizerLoadsAndRoundTrips) {
  BpeTrainOptions o;
  o.vocab_size = 256 + 120 + 2;
  o.special_tokens = {"<|endoftext|>", "<|pad|>"};
  auto m = train_bpe(kText, o);
  testing::TempDir dir;
  write_tokenizer_json(m, dir / "tokenizer.json");
  auto t = load_tokenizer(dir.path());
  EXPECT_EQ(t->vocab_size(), static_cast<int64_t>(m.vocab.size()));
  const std::string text = kText;
  auto ids = t->encode(text);
  EXPECT_EQ(t->decode(ids), text);
  // Merges compress: far fewer tokens than bytes on the training text.
  EXPECT_LT(ids.size() * 2, text.size());
  for (size_t id = 0; id < m.vocab.size(); ++id)
    EXPECT_EQ(t->token_to_id(m.vocab[id]), std::optional<int64_t>(id)) << m.vocab[id];
  EXPECT_EQ(t->encode("x<|pad|>"), (std::vector<int64_t>{'x', t->vocab_size() - 1}));
  EXPECT_EQ(t->eos_id(), std::optional<int64_t>(t->vocab_size() - 2));
  // Text never seen still round-trips through the byte tokens.
  const std::string other = "Zw\xC3\xB6lf \xF0\x9F\x99\x82 \xFF!";
  EXPECT_EQ(t->decode(t->encode(other)), other);
}

TEST(BpeTrainer, Deterministic) {
  BpeTrainOptions o;
  o.vocab_size = 256 + 80 + 1;
  auto a = bpe_to_tokenizer_json(train_bpe(kText, o)).dump();
  auto b = bpe_to_tokenizer_json(train_bpe(kText, o)).dump();
  EXPECT_EQ(a, b);
}

TEST(BpeTrainer, BadOptions) {
  BpeTrainOptions o;
  o.vocab_size = 200;
  testing::expect_error([&] { train_bpe("abc", o); }, "vocab_size must be >= 256 + 1");
}

}  // namespace
}  // namespace qtune
