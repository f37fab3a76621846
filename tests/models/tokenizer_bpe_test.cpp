// Byte-level BPE: a hand-made tokenizer.json whose encodings are worked out by
// hand, the split patterns of GPT-2 and Llama-3, and unicode round trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "models/text/bpe_tokenizer.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using Ids = std::vector<int64_t>;
using Pieces = std::vector<std::string>;

// Ids 0..255 are the bytes (in byte order), then one token per merge, then
// the special token. Merge ranks are the order below.
const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"h", "e"},     // 256 he
    {"l", "l"},     // 257 ll
    {"he", "ll"},   // 258 hell
    {"hell", "o"},  // 259 hello
    {"Ġ", "w"},     // 260 Ġw
    {"o", "r"},     // 261 or
    {"Ġw", "or"},   // 262 Ġwor
    {"l", "o"},     // 263 lo
    {"e", "l"},     // 264 el
};
constexpr int64_t kEnd = 265;  // <|endoftext|>

nlohmann::json hand_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level_encode(std::string(1, char(b)))] = b;
  nlohmann::json merges = nlohmann::json::array();
  int64_t id = 256;
  for (const auto& [a, b] : kMerges) {
    vocab[a + b] = id++;
    merges.push_back(a + " " + b);
  }
  return {{"added_tokens", {{{"id", kEnd}, {"content", "<|endoftext|>"}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

std::unique_ptr<BpeTokenizer> hand_tokenizer() {
  return BpeTokenizer::from_json(hand_json(), "hand");
}

int64_t b(char c) { return static_cast<unsigned char>(c); }

TEST(ByteLevel, Gpt2TableKnownCharacters) {
  EXPECT_EQ(byte_level_encode(" "), "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(byte_level_encode("\n"), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(byte_level_encode("\t"), "\xC4\x89");  // U+0109 'ĉ'
  EXPECT_EQ(byte_level_encode("A~"), "A~");
  EXPECT_EQ(byte_level_encode("\xAD"), "\xC5\x83");  // soft hyphen, the last remapped: U+0143
  EXPECT_EQ(byte_level_encode("\xFF"), "\xC3\xBF");  // printable Latin-1 keeps its code point
}

TEST(ByteLevel, AllBytesRoundTripAndAreDistinct) {
  std::set<std::string> seen;
  for (int c = 0; c < 256; ++c) {
    std::string s(1, static_cast<char>(c));
    std::string e = byte_level_encode(s);
    EXPECT_EQ(byte_level_decode(e), s) << "byte " << c;
    seen.insert(e);
  }
  EXPECT_EQ(seen.size(), 256u);
  expect_error([] { byte_level_decode("\xE4\xBD\xA0"); }, "byte-to-unicode");
}

TEST(RegexSplit, Gpt2Pattern) {
  RegexSplitter s(kGpt2SplitPattern);
  EXPECT_EQ(s.split("Hello world's 123  !!"),
            (Pieces{"Hello", " world", "'s", " 123", " ", " !!"}));
  EXPECT_EQ(s.split("a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(s.split("I'll  go"), (Pieces{"I", "'ll", " ", " go"}));
  EXPECT_EQ(s.split("h\xC3\xA9llo w\xC3\xB6rld"), (Pieces{"h\xC3\xA9llo", " w\xC3\xB6rld"}));
  EXPECT_EQ(s.split("\xE4\xBD\xA0\xE5\xA5\xBD 42"), (Pieces{"\xE4\xBD\xA0\xE5\xA5\xBD", " 42"}));
  EXPECT_EQ(s.split("trailing  "), (Pieces{"trailing", "  "}));
  EXPECT_TRUE(s.split("").empty());
}

TEST(RegexSplit, Llama3PatternDigitsInThreesAndCaseInsensitiveContractions) {
  RegexSplitter s(kLlama3SplitPattern);
  EXPECT_EQ(s.split("Hello world's 12345"), (Pieces{"Hello", " world", "'s", " ", "123", "45"}));
  EXPECT_EQ(s.split("IT'S ok"), (Pieces{"IT", "'S", " ok"}));
  EXPECT_EQ(s.split("a\n\nb"), (Pieces{"a", "\n\n", "b"}));
  EXPECT_EQ(s.split("x...\n"), (Pieces{"x", "...\n"}));
  RegexSplitter q(kQwen2SplitPattern);
  EXPECT_EQ(q.split("x 123"), (Pieces{"x", " ", "1", "2", "3"}));
}

TEST(RegexSplit, InvalidUtf8StaysInThePiecesAndConcatenatesBack) {
  RegexSplitter s(kGpt2SplitPattern);
  const std::string text = "ab\xFF\xFE cd \xC3";
  auto pieces = s.split(text);
  std::string joined;
  for (const auto& p : pieces) joined += p;
  EXPECT_EQ(joined, text);
  EXPECT_EQ(pieces.front(), "ab");
}

TEST(RegexSplit, BadPatternNamesIt) {
  expect_error([] { RegexSplitter s("(unclosed"); }, "split pattern '(unclosed'");
}

TEST(BpeTokenizer, HandWorkedEncodings) {
  auto t = hand_tokenizer();
  EXPECT_EQ(t->vocab_size(), 266);
  // "hello": he (rank 0), then ll (1), hell (2), hello (3).
  EXPECT_EQ(t->encode("hello"), (Ids{259}));
  // " world": Ġw, or, Ġwor; no merge for "Ġwor l" or "l d".
  EXPECT_EQ(t->encode("hello world"), (Ids{259, 262, b('l'), b('d')}));
  // "lll": the leftmost "l l" merges first.
  EXPECT_EQ(t->encode("lll"), (Ids{257, b('l')}));
  // "elo": "l o" (rank 7) beats "e l" (rank 8) although it is further right.
  EXPECT_EQ(t->encode("elo"), (Ids{b('e'), 263}));
  // Pieces never merge across the pre-tokenizer's boundaries: "o" then " r".
  EXPECT_EQ(t->encode("o r"), (Ids{b('o'), b(' '), b('r')}));
  EXPECT_TRUE(t->encode("").empty());
}

TEST(BpeTokenizer, MergesAsPairsReadTheSame) {
  auto j = hand_json();
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [a, b2] : kMerges) pairs.push_back({a, b2});
  j["model"]["merges"] = pairs;
  auto t = BpeTokenizer::from_json(j, "pairs");
  EXPECT_EQ(t->encode("hello world elo"), hand_tokenizer()->encode("hello world elo"));
}

TEST(BpeTokenizer, SpecialTokensKeptWhole) {
  auto t = hand_tokenizer();
  EXPECT_EQ(t->encode("hello<|endoftext|>hello"), (Ids{259, kEnd, 259}));
  EXPECT_EQ(t->encode("<|endoftext|><|endoftext|>"), (Ids{kEnd, kEnd}));
  // Not quite the token: plain bytes.
  auto partial = t->encode("<|endoftext|");
  EXPECT_EQ(std::count(partial.begin(), partial.end(), kEnd), 0);
  EXPECT_EQ(t->decode(partial), "<|endoftext|");
  EXPECT_EQ(t->decode({259, kEnd}), "hello<|endoftext|>");
  EXPECT_EQ(t->token_bytes(kEnd), 0);  // special: no text bytes for bits per byte
  EXPECT_EQ(t->token_bytes(262), 4);   // "Ġwor" = " wor"
  EXPECT_EQ(t->token_to_id("Ġwor"), std::optional<int64_t>(262));
  EXPECT_EQ(t->token_to_id("nope"), std::nullopt);
  EXPECT_EQ(t->bos_id(), std::optional<int64_t>(kEnd));  // GPT-2 convention without a config
  EXPECT_EQ(t->eos_id(), std::optional<int64_t>(kEnd));
}

TEST(BpeTokenizer, UnicodeRoundTrips) {
  auto t = hand_tokenizer();
  const std::vector<std::string> texts = {
      "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD thumbs",           // emoji with a skin-tone modifier
      "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C",  // CJK
      "e\xCC\x81 cafe\xCC\x81",                            // combining acute accent
      "ab\xFF\xFE cd \xC3",                                // invalid UTF-8 bytes
      std::string("nul\0byte", 8),
      "tabs\tand\r\nnewlines\n\n",
      "hello world<|endoftext|>\xF0\x9F\x98\x80",
  };
  for (const auto& s : texts) {
    auto ids = t->encode(s);
    EXPECT_EQ(t->decode(ids), s);
    int64_t bytes = 0;
    for (auto id : ids) bytes += t->token_bytes(id);
    const int64_t specials = std::count(ids.begin(), ids.end(), kEnd);
    EXPECT_EQ(bytes + specials * 13, static_cast<int64_t>(s.size())) << s;
  }
  // Every byte of the emoji is its own token here (no merges cover them).
  EXPECT_EQ(t->encode("\xF0\x9F\x98\x80").size(), 4u);
}

TEST(BpeTokenizer, SplitPreTokenizerSequence) {
  // The Llama-3 layout: Split with the pattern, then ByteLevel without regex.
  auto j = hand_json();
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", kLlama3SplitPattern}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  auto t = BpeTokenizer::from_json(j, "llama3-like");
  EXPECT_EQ(t->pre_tokenize("abc 12345"), (Pieces{"abc", " ", "123", "45"}));
  EXPECT_EQ(t->decode(t->encode("abc 12345 hello")), "abc 12345 hello");
}

TEST(BpeTokenizer, AddPrefixSpace) {
  auto j = hand_json();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  auto t = BpeTokenizer::from_json(j, "prefix");
  EXPECT_EQ(t->encode("world"), (Ids{262, b('l'), b('d')}));
}

TEST(BpeTokenizer, TokenizerConfigNamesBosAndEos) {
  testing::TempDir dir;
  testing::write_bytes(dir / "tokenizer.json", hand_json().dump());
  testing::write_bytes(dir / "tokenizer_config.json",
                       R"({"bos_token": "hello", "eos_token": {"content": "<|endoftext|>"}})");
  auto t = BpeTokenizer::from_file(dir / "tokenizer.json");
  EXPECT_EQ(t->bos_id(), std::optional<int64_t>(259));
  EXPECT_EQ(t->eos_id(), std::optional<int64_t>(kEnd));
  testing::write_bytes(dir / "tokenizer_config.json", R"({"bos_token": null})");
  EXPECT_EQ(BpeTokenizer::from_file(dir / "tokenizer.json")->bos_id(), std::nullopt);
  auto loaded = load_tokenizer(dir.path());
  EXPECT_EQ(loaded->kind(), "bpe");
  EXPECT_EQ(loaded->encode("hello world"), t->encode("hello world"));
}

TEST(BpeTokenizer, BadInputsNameWhatAndWhere) {
  testing::TempDir dir;
  expect_error([&] { load_tokenizer(dir.path()); }, dir.path().string());
  testing::write_bytes(dir / "tokenizer.json", "{not json");
  expect_error([&] { load_tokenizer(dir.path()); }, "tokenizer.json: not valid JSON");

  auto j = hand_json();
  j["model"]["merges"].push_back("h zz");
  expect_error([&] { BpeTokenizer::from_json(j, "t.json"); }, "t.json: model.merges[9] \"h zz\"");
  j = hand_json();
  j["model"]["merges"][2] = "nospace";
  expect_error([&] { BpeTokenizer::from_json(j, "t.json"); }, "model.merges[2]");
  j = hand_json();
  j["model"]["type"] = "WordPiece";
  expect_error([&] { BpeTokenizer::from_json(j, "t.json"); }, "model.type: expected \"BPE\"");
  j = hand_json();
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect_error([&] { BpeTokenizer::from_json(j, "t.json"); },
               "unsupported pre-tokenizer \"Metaspace\"");
  j = hand_json();
  j["model"]["vocab"]["dup"] = 5;
  expect_error([&] { BpeTokenizer::from_json(j, "t.json"); }, "id 5 is given to both");
  auto t = hand_tokenizer();
  expect_error([&] { t->decode({1, 266}); }, "token id 266 at position 1");
}

}  // namespace
}  // namespace qtune
