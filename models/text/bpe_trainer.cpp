// Byte-level BPE training with incremental pair counts.
#include "models/text/bpe_trainer.h"

#include <fstream>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "models/text/bpe_tokenizer.h"

namespace qtune {
namespace {

uint64_t pair_key(int64_t a, int64_t b) {
  return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b);
}

struct Word {
  std::vector<int32_t> sym;
  int64_t count = 0;
};

struct HeapEntry {
  int64_t count;
  uint64_t key;
  // std::priority_queue pops the largest: higher count first, then the
  // smaller (left id, right id) — the documented tie-break.
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : key > o.key;
  }
};

}  // namespace

BpeModel train_bpe(const std::string& text, const BpeTrainOptions& options) {
  BpeModel model;
  model.split_pattern = options.split_pattern.empty() ? kGpt2SplitPattern : options.split_pattern;
  model.special_tokens = options.special_tokens;
  const int64_t n_special = static_cast<int64_t>(options.special_tokens.size());
  QT_CHECK(options.vocab_size >= 256 + n_special, "BPE training: vocab_size must be >= 256 + ",
           n_special, " special tokens = ", 256 + n_special, ", got ", options.vocab_size);
  QT_CHECK(options.min_frequency >= 1, "BPE training: min_frequency must be >= 1, got ",
           options.min_frequency);
  const int64_t max_merges = options.vocab_size - 256 - n_special;

  // Distinct pieces with their counts: the whole text is a few tens of
  // thousands of distinct words, so merging works on those, not on bytes.
  std::vector<Word> words;
  {
    std::unordered_map<std::string, int64_t> counts;
    for (auto& piece : RegexSplitter(model.split_pattern).split(text)) ++counts[piece];
    std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end());  // fixed order, independent of hashing
    words.reserve(sorted.size());
    for (auto& [piece, c] : sorted) {
      Word w;
      w.count = c;
      for (unsigned char b : piece) w.sym.push_back(b);
      words.push_back(std::move(w));
    }
  }

  std::vector<std::string> bytes_of(256);  // id -> the bytes it stands for
  for (int b = 0; b < 256; ++b) bytes_of[b] = std::string(1, static_cast<char>(b));
  std::unordered_map<std::string, int32_t> id_of_bytes;
  for (int b = 0; b < 256; ++b) id_of_bytes[bytes_of[b]] = b;

  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;  // may hold stale entries
  for (size_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].sym;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count[k] += words[w].count;
      pair_words[k].push_back(static_cast<int32_t>(w));
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (const auto& [k, c] : pair_count) heap.push({c, k});

  std::vector<uint64_t> touched;
  while (static_cast<int64_t>(bytes_of.size()) < 256 + max_merges && !heap.empty()) {
    HeapEntry top = heap.top();
    heap.pop();
    auto it = pair_count.find(top.key);
    const int64_t actual = it == pair_count.end() ? 0 : it->second;
    // Entries only overestimate (counts of existing pairs only fall), so a
    // stale one is re-queued with its true count and the loop looks again.
    if (actual != top.count) {
      if (actual > 0) heap.push({actual, top.key});
      continue;
    }
    if (actual < options.min_frequency) break;
    const int32_t a = static_cast<int32_t>(top.key >> 32);
    const int32_t b = static_cast<int32_t>(top.key & 0xFFFFFFFFu);
    // A pair whose concatenation already exists (made by another merge order)
    // reuses that id, as HF's trainer does.
    const std::string merged = bytes_of[a] + bytes_of[b];
    int32_t c;
    auto found = id_of_bytes.find(merged);
    if (found != id_of_bytes.end()) {
      c = found->second;
    } else {
      c = static_cast<int32_t>(bytes_of.size());
      bytes_of.push_back(merged);
      id_of_bytes.emplace(merged, c);
    }
    model.merges.emplace_back(byte_level_encode(bytes_of[a]), byte_level_encode(bytes_of[b]));

    touched.clear();
    std::vector<int32_t> ws = std::move(pair_words[top.key]);
    pair_words.erase(top.key);
    for (int32_t w : ws) {
      auto& s = words[w].sym;
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; ++i) has = s[i] == a && s[i + 1] == b;
      if (!has) continue;  // stale entry, or a word seen twice
      const int64_t cnt = words[w].count;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        if ((pair_count[k] -= cnt) == 0) pair_count.erase(k);
      }
      std::vector<int32_t> next;
      next.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          next.push_back(c);
          ++i;
        } else {
          next.push_back(s[i]);
        }
      }
      s.swap(next);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        pair_count[k] += cnt;
        if (s[i] == c || s[i + 1] == c) {
          pair_words[k].push_back(w);
          touched.push_back(k);
        }
      }
    }
    // New pairs are queued once, with their final count for this merge.
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k : touched) heap.push({pair_count[k], k});
  }

  for (const auto& bytes : bytes_of) model.vocab.push_back(byte_level_encode(bytes));
  if (options.pad_with_reserved) {
    const int64_t missing = 256 + max_merges - static_cast<int64_t>(model.vocab.size());
    for (int64_t i = 0; i < missing; ++i)
      model.special_tokens.push_back("<|reserved_" + std::to_string(i) + "|>");
  }
  const std::unordered_set<std::string> ordinary(model.vocab.begin(), model.vocab.end());
  for (const auto& s : model.special_tokens) {
    QT_CHECK(!ordinary.count(s), "BPE training: special token '", s, "' is also an ordinary token");
    model.vocab.push_back(s);
  }
  return model;
}

Json bpe_to_tokenizer_json(const BpeModel& model) {
  const int64_t first_special =
      static_cast<int64_t>(model.vocab.size() - model.special_tokens.size());
  Json added = Json::array();
  for (size_t i = 0; i < model.special_tokens.size(); ++i)
    added.push_back({{"id", first_special + static_cast<int64_t>(i)},
                     {"content", model.special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  Json vocab = Json::object();
  for (size_t id = 0; id < model.vocab.size(); ++id) vocab[model.vocab[id]] = id;
  Json merges = Json::array();
  for (const auto& [a, b] : model.merges) merges.push_back(a + " " + b);
  const std::string pattern = model.split_pattern.empty() ? kGpt2SplitPattern : model.split_pattern;
  return Json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", added},
              {"normalizer", nullptr},
              // Split then ByteLevel without its own regex: the Llama-3 layout, which
              // lets the pattern be any one, not only GPT-2's.
              {"pre_tokenizer",
               {{"type", "Sequence"},
                {"pretokenizers", Json::array({Json{{"type", "Split"},
                                                    {"pattern", {{"Regex", pattern}}},
                                                    {"behavior", "Isolated"},
                                                    {"invert", false}},
                                               Json{{"type", "ByteLevel"},
                                                    {"add_prefix_space", false},
                                                    {"trim_offsets", true},
                                                    {"use_regex", false}}})}}},
              {"post_processor", nullptr},
              {"decoder",
               {{"type", "ByteLevel"},
                {"add_prefix_space", true},
                {"trim_offsets", true},
                {"use_regex", true}}},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merges}}}};
}

void write_tokenizer_json(const BpeModel& model, const std::filesystem::path& file) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  QT_CHECK(out.good(), "cannot write tokenizer to ", file.string());
  out << bpe_to_tokenizer_json(model).dump(1) << "\n";
  QT_CHECK(out.good(), "writing tokenizer to ", file.string(), " failed");
}

}  // namespace qtune
