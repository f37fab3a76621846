// Byte-level BPE from a Hugging Face tokenizer.json.
#include "models/text/bpe_tokenizer.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>

#include "common/error.h"

namespace qtune {
namespace {

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false, rstrip = false, special = false;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

uint64_t pair_key(int64_t a, int64_t b) {
  return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b);
}

std::string type_of(const nlohmann::json& j) {
  return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>()
                                                                      : std::string("?");
}

// "\Q...\E" quotes a literal for PCRE2; a literal "\E" inside must be split out.
std::string quote_literal(const std::string& s) {
  std::string out = "\\Q";
  size_t pos = 0, hit;
  while ((hit = s.find("\\E", pos)) != std::string::npos) {
    out += s.substr(pos, hit - pos) + "\\E\\\\E\\Q";
    pos = hit + 2;
  }
  return out + s.substr(pos) + "\\E";
}

}  // namespace

struct BpeTokenizer::Impl {
  std::string where;
  std::vector<std::string> id_to_token;  // vocabulary spelling; "" = unused id
  std::vector<std::string> id_bytes;     // the text bytes an id stands for
  std::vector<char> special;
  std::vector<char> used;
  std::unordered_map<std::string, int64_t> token_to_id;
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merges;  // (a,b) -> (rank, merged id)
  std::array<int64_t, 256> byte_id{};
  std::vector<AddedToken> added;  // longest first, so a longer token wins at a position
  std::array<bool, 256> added_first_byte{};
  std::vector<RegexSplitter> splitters;  // applied in turn, each to every piece
  bool add_prefix_space = false;
  bool ignore_merges = false;
  std::optional<int64_t> bos, eos;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache;

  void parse_pre_tokenizer(const nlohmann::json& p, const std::string& field, bool& byte_level);
  std::vector<int64_t> bpe(const std::string& piece) const;
  void encode_plain(const std::string& text, std::vector<int64_t>& out) const;
  std::vector<std::string> pre_tokenize(const std::string& text) const;
};

void BpeTokenizer::Impl::parse_pre_tokenizer(const nlohmann::json& p, const std::string& field,
                                             bool& byte_level) {
  const std::string type = type_of(p);
  if (type == "Sequence") {
    QT_CHECK(p.contains("pretokenizers") && p["pretokenizers"].is_array(), where, ": ", field,
             ".pretokenizers: expected an array");
    for (size_t i = 0; i < p["pretokenizers"].size(); ++i)
      parse_pre_tokenizer(p["pretokenizers"][i],
                          field + ".pretokenizers[" + std::to_string(i) + "]", byte_level);
  } else if (type == "ByteLevel") {
    byte_level = true;
    add_prefix_space = p.value("add_prefix_space", false);
    if (p.value("use_regex", true)) splitters.emplace_back(kGpt2SplitPattern);
  } else if (type == "Split") {
    const std::string behavior = p.value("behavior", std::string("Isolated"));
    QT_CHECK(behavior == "Isolated", where, ": ", field,
             ".behavior: only \"Isolated\" is supported, got \"", behavior, "\"");
    QT_CHECK(!p.value("invert", false), where, ": ", field, ".invert: true is not supported");
    QT_CHECK(p.contains("pattern") && p["pattern"].is_object(), where, ": ", field,
             ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
    const auto& pat = p["pattern"];
    if (pat.contains("Regex") && pat["Regex"].is_string()) {
      splitters.emplace_back(pat["Regex"].get<std::string>());
    } else if (pat.contains("String") && pat["String"].is_string()) {
      splitters.emplace_back(quote_literal(pat["String"].get<std::string>()));
    } else {
      throw Error(where + ": " + field +
                  ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
    }
  } else {
    throw Error(detail::concat(where, ": ", field, ".type: unsupported pre-tokenizer \"", type,
                               "\" (supported: ByteLevel, Split, Sequence)"));
  }
}

std::vector<int64_t> BpeTokenizer::Impl::bpe(const std::string& piece) const {
  std::vector<int64_t> sym;
  if (ignore_merges) {
    auto it = token_to_id.find(byte_level_encode(piece));
    if (it != token_to_id.end() && !special[it->second]) return {it->second};
  }
  sym.reserve(piece.size());
  for (unsigned char c : piece) {
    QT_CHECK(byte_id[c] >= 0, where, ": the vocabulary has no token for byte ", static_cast<int>(c),
             " (byte-level BPE needs all 256)");
    sym.push_back(byte_id[c]);
  }
  // Merge the lowest-ranked adjacent pair everywhere it occurs, until no pair
  // has a merge (GPT-2's encoder.py loop; same result as HF's priority queue).
  while (sym.size() > 1) {
    int64_t best_rank = std::numeric_limits<int64_t>::max(), best_id = -1;
    uint64_t best_key = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = merges.find(pair_key(sym[i], sym[i + 1]));
      if (it != merges.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best_id = it->second.second;
        best_key = it->first;
      }
    }
    if (best_id < 0) break;
    std::vector<int64_t> next;
    next.reserve(sym.size());
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && pair_key(sym[i], sym[i + 1]) == best_key) {
        next.push_back(best_id);
        ++i;
      } else {
        next.push_back(sym[i]);
      }
    }
    sym.swap(next);
  }
  return sym;
}

std::vector<std::string> BpeTokenizer::Impl::pre_tokenize(const std::string& text) const {
  std::vector<std::string> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(add_prefix_space && text[0] != ' ' ? " " + text : text);
  for (const auto& s : splitters) {
    std::vector<std::string> next;
    for (const auto& p : pieces)
      for (auto& q : s.split(p)) next.push_back(std::move(q));
    pieces.swap(next);
  }
  return pieces;
}

void BpeTokenizer::Impl::encode_plain(const std::string& text, std::vector<int64_t>& out) const {
  for (const auto& piece : pre_tokenize(text)) {
    {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = cache.find(piece);
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    auto ids = bpe(piece);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mutex);
    // Bounded so a long stream of distinct pieces cannot grow memory without limit.
    if (cache.size() < 500000) cache.emplace(piece, std::move(ids));
  }
}

BpeTokenizer::BpeTokenizer() : impl_(std::make_unique<Impl>()) {}
BpeTokenizer::~BpeTokenizer() = default;

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  QT_CHECK(in.good(), "tokenizer: cannot open ", file.string());
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(detail::concat(file.string(), ": not valid JSON: ", e.what()));
  }
  std::unique_ptr<BpeTokenizer> tok;
  try {
    tok = from_json(j, file.string());
  } catch (const nlohmann::json::exception& e) {
    // A field of another type than the format's ("model": {"type": 185}).
    throw Error(detail::concat(file.string(), ": a field has the wrong type: ", e.what()));
  }
  // tokenizer_config.json, when present, is where HF keeps the BOS/EOS names.
  auto config_file = file.parent_path() / "tokenizer_config.json";
  std::ifstream cin(config_file, std::ios::binary);
  if (cin.good()) {
    nlohmann::json c;
    try {
      cin >> c;
    } catch (const nlohmann::json::exception& e) {
      throw Error(detail::concat(config_file.string(), ": not valid JSON: ", e.what()));
    }
    auto name_of = [&](const char* key) -> std::optional<std::string> {
      if (!c.is_object() || !c.contains(key)) return std::nullopt;
      const auto& v = c[key];
      if (v.is_string()) return v.get<std::string>();
      if (v.is_object() && v.contains("content") && v["content"].is_string())
        return v["content"].get<std::string>();
      return std::nullopt;
    };
    // An explicit null (Qwen2's bos_token) means the model has none.
    auto has_null = [&](const char* key) {
      return c.is_object() && c.contains(key) && c[key].is_null();
    };
    if (auto b = name_of("bos_token")) tok->impl_->bos = tok->token_to_id(*b);
    if (has_null("bos_token")) tok->impl_->bos.reset();
    if (auto e = name_of("eos_token")) tok->impl_->eos = tok->token_to_id(*e);
    if (has_null("eos_token")) tok->impl_->eos.reset();
  }
  return tok;
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_json(const nlohmann::json& j,
                                                      const std::string& where) {
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer());
  Impl& m = *tok->impl_;
  m.where = where;
  QT_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), where,
           ": expected an object with a \"model\" object");
  const auto& model = j["model"];
  const std::string mtype = model.value("type", std::string("BPE"));
  QT_CHECK(mtype == "BPE", where, ": model.type: expected \"BPE\", got \"", mtype, "\"");
  QT_CHECK(model.contains("vocab") && model["vocab"].is_object(), where,
           ": model.vocab: expected an object {token: id}");
  QT_CHECK(model.contains("merges") && model["merges"].is_array(), where,
           ": model.merges: expected an array");
  m.ignore_merges = model.value("ignore_merges", false);

  // Vocabulary and added tokens share one id space.
  int64_t max_id = -1;
  auto check_id = [&](const nlohmann::json& v, const std::string& field) {
    QT_CHECK(
        v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < (int64_t{1} << 31),
        where, ": ", field, ": expected an id in [0, 2^31), got ", v.dump());
    return v.get<int64_t>();
  };
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it)
    max_id = std::max(max_id, check_id(it.value(), "model.vocab[\"" + it.key() + "\"]"));
  const nlohmann::json added = j.contains("added_tokens") && j["added_tokens"].is_array()
                                   ? j["added_tokens"]
                                   : nlohmann::json::array();
  for (size_t i = 0; i < added.size(); ++i) {
    const auto& a = added[i];
    const std::string f = "added_tokens[" + std::to_string(i) + "]";
    QT_CHECK(a.is_object() && a.contains("id") && a.contains("content") &&
                 a["content"].is_string() && !a["content"].get<std::string>().empty(),
             where, ": ", f, ": expected {\"id\": int, \"content\": non-empty string}");
    max_id = std::max(max_id, check_id(a["id"], f + ".id"));
  }
  QT_CHECK(max_id >= 0, where, ": model.vocab is empty");
  const size_t n = static_cast<size_t>(max_id + 1);
  m.id_to_token.assign(n, "");
  m.id_bytes.assign(n, "");
  m.special.assign(n, 0);
  m.used.assign(n, 0);
  m.byte_id.fill(-1);
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    int64_t id = it.value().get<int64_t>();
    QT_CHECK(!m.used[id], where, ": model.vocab: id ", id, " is given to both \"",
             m.id_to_token[id], "\" and \"", it.key(), "\"");
    m.used[id] = 1;
    m.id_to_token[id] = it.key();
    m.token_to_id[it.key()] = id;
  }
  for (const auto& a : added) {
    AddedToken t;
    t.content = a["content"].get<std::string>();
    t.id = a["id"].get<int64_t>();
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    t.special = a.value("special", false);
    // An added token may repeat a vocab entry (GPT-2's <|endoftext|>); same id is fine.
    QT_CHECK(!m.used[t.id] || m.id_to_token[t.id] == t.content, where, ": added token \"",
             t.content, "\": id ", t.id, " already belongs to \"", m.id_to_token[t.id], "\"");
    m.used[t.id] = 1;
    m.id_to_token[t.id] = t.content;
    m.id_bytes[t.id] = t.content;
    m.special[t.id] = t.special;
    m.token_to_id[t.content] = t.id;
    m.added_first_byte[static_cast<unsigned char>(t.content[0])] = true;
    m.added.push_back(std::move(t));
  }
  std::stable_sort(m.added.begin(), m.added.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });

  // Byte-level spelling -> bytes, for every ordinary token.
  std::vector<char> is_added(n, 0);
  for (const auto& a : m.added) is_added[a.id] = 1;
  for (size_t id = 0; id < n; ++id) {
    if (!m.used[id] || is_added[id]) continue;
    try {
      m.id_bytes[id] = byte_level_decode(m.id_to_token[id]);
    } catch (const Error&) {
      throw Error(detail::concat(where, ": model.vocab: token \"", m.id_to_token[id], "\" (id ", id,
                                 ") is not byte-level text; only byte-level BPE is supported"));
    }
    if (m.id_bytes[id].size() == 1)
      m.byte_id[static_cast<unsigned char>(m.id_bytes[id][0])] = static_cast<int64_t>(id);
  }

  const auto& merges = model["merges"];
  m.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& e = merges[r];
    std::string a, b;
    if (e.is_string()) {
      const std::string s = e.get<std::string>();
      auto sp = s.find(' ');
      QT_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < s.size() &&
                   s.find(' ', sp + 1) == std::string::npos,
               where, ": model.merges[", r, "]: expected \"left right\", got \"", s, "\"");
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>(), b = e[1].get<std::string>();
    } else {
      throw Error(detail::concat(where, ": model.merges[", r,
                                 "]: expected \"left right\" or [left, right], got ", e.dump()));
    }
    auto ia = m.token_to_id.find(a), ib = m.token_to_id.find(b), iab = m.token_to_id.find(a + b);
    QT_CHECK(ia != m.token_to_id.end() && ib != m.token_to_id.end() && iab != m.token_to_id.end(),
             where, ": model.merges[", r, "] \"", a, " ", b,
             "\": both parts and their concatenation must be in model.vocab");
    // The first (lowest-ranked) occurrence of a pair wins, as in HF.
    m.merges.emplace(pair_key(ia->second, ib->second), std::make_pair(int64_t(r), iab->second));
  }

  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    // NFC is accepted as the identity: text is assumed to be NFC already (true of
    // the KJV and of almost all text); implementing NFC would need ICU.
    const std::string t = type_of(j["normalizer"]);
    QT_CHECK(t == "NFC", where, ": normalizer.type: unsupported normalizer \"", t,
             "\" (byte-level BPE supports none or NFC)");
  }
  bool byte_level = false;
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null())
    m.parse_pre_tokenizer(j["pre_tokenizer"], "pre_tokenizer", byte_level);
  QT_CHECK(byte_level, where,
           ": pre_tokenizer: no ByteLevel step; only byte-level BPE tokenizer.json is supported "
           "(a SentencePiece model needs tokenizer.model)");
  if (j.contains("decoder") && !j["decoder"].is_null()) {
    const auto& d = j["decoder"];
    bool ok = type_of(d) == "ByteLevel";
    if (type_of(d) == "Sequence" && d.contains("decoders") && d["decoders"].is_array())
      for (const auto& s : d["decoders"]) ok = ok || type_of(s) == "ByteLevel";
    QT_CHECK(ok, where, ": decoder.type: expected \"ByteLevel\", got \"", type_of(d), "\"");
  }

  // BOS: the special token a TemplateProcessing post-processor puts first
  // (Llama-3); otherwise well-known names. tokenizer_config.json overrides both.
  if (j.contains("post_processor") && type_of(j["post_processor"]) == "TemplateProcessing") {
    const auto& single = j["post_processor"].value("single", nlohmann::json::array());
    if (single.is_array() && !single.empty() && single[0].contains("SpecialToken"))
      m.bos = tok->token_to_id(single[0]["SpecialToken"].value("id", std::string()));
  }
  for (const char* name : {"<|begin_of_text|>", "<s>", "<|endoftext|>"})
    if (!m.bos) m.bos = tok->token_to_id(name);
  for (const char* name : {"<|end_of_text|>", "<|endoftext|>", "</s>"})
    if (!m.eos) m.eos = tok->token_to_id(name);
  return tok;
}

std::vector<std::string> BpeTokenizer::pre_tokenize(const std::string& text) const {
  return impl_->pre_tokenize(text);
}

std::vector<int64_t> BpeTokenizer::encode(const std::string& text) const {
  const Impl& m = *impl_;
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 1);
  size_t start = 0;  // start of the plain text not yet encoded
  size_t i = 0;
  while (i < text.size()) {
    const AddedToken* hit = nullptr;
    if (m.added_first_byte[static_cast<unsigned char>(text[i])]) {
      for (const auto& a : m.added)
        if (text.compare(i, a.content.size(), a.content) == 0) {
          hit = &a;
          break;
        }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t plain_end = i;
    if (hit->lstrip)
      while (plain_end > start && is_space(text[plain_end - 1])) --plain_end;
    m.encode_plain(text.substr(start, plain_end - start), out);
    out.push_back(hit->id);
    i += hit->content.size();
    if (hit->rstrip)
      while (i < text.size() && is_space(text[i])) ++i;
    start = i;
  }
  m.encode_plain(text.substr(start), out);
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (size_t k = 0; k < ids.size(); ++k) {
    int64_t id = ids[k];
    QT_CHECK(id >= 0 && id < vocab_size() && impl_->used[id], "decode: token id ", id,
             " at position ", k, " is not in the vocabulary of ", impl_->where, " (size ",
             vocab_size(), ")");
    out += impl_->id_bytes[id];
  }
  return out;
}

int64_t BpeTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }
std::optional<int64_t> BpeTokenizer::bos_id() const { return impl_->bos; }
std::optional<int64_t> BpeTokenizer::eos_id() const { return impl_->eos; }

int64_t BpeTokenizer::token_bytes(int64_t id) const {
  QT_CHECK(id >= 0 && id < vocab_size(), "token_bytes: id ", id, " outside [0, ", vocab_size(),
           ")");
  return impl_->special[id] ? 0 : static_cast<int64_t>(impl_->id_bytes[id].size());
}

std::optional<int64_t> BpeTokenizer::token_to_id(const std::string& token) const {
  auto it = impl_->token_to_id.find(token);
  if (it == impl_->token_to_id.end()) return std::nullopt;
  return it->second;
}

const std::string& BpeTokenizer::id_to_token(int64_t id) const {
  QT_CHECK(id >= 0 && id < vocab_size(), "id_to_token: id ", id, " outside [0, ", vocab_size(),
           ")");
  return impl_->id_to_token[id];
}

}  // namespace qtune
