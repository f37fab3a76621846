#include "storage/formats/gguf_tokenizer.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "models/text/bpe_tokenizer.h"
#include "models/text/tokenizer.h"

namespace qtune {

namespace {

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  QT_CHECK(in.good(), "cannot read ", file.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string type_of(const nlohmann::json& j) {
  return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>()
                                                                      : "";
}

/// The split regex a byte-level pre_tokenizer applies ("" = none found).
std::string split_regex(const nlohmann::json& pre) {
  const std::string t = type_of(pre);
  if (t == "ByteLevel") return pre.value("use_regex", true) ? kGpt2SplitPattern : "";
  if (t == "Split" && pre.contains("pattern") && pre["pattern"].is_object() &&
      pre["pattern"].contains("Regex") && pre["pattern"]["Regex"].is_string())
    return pre["pattern"]["Regex"].get<std::string>();
  if (t == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array()) {
    std::string found;
    for (const auto& step : pre["pretokenizers"]) {
      const std::string r = split_regex(step);
      if (r.empty()) continue;
      QT_CHECK(found.empty(), "pre_tokenizer: more than one split regex (llama.cpp applies one)");
      found = r;
    }
    return found;
  }
  return "";
}

/// ids -> tokens with the gaps filled and padded to `vocab_size`.
void pad_vocab(std::vector<std::optional<std::string>>& tokens, std::vector<int32_t>& types,
               int64_t vocab_size, const std::string& where) {
  QT_CHECK(static_cast<int64_t>(tokens.size()) <= vocab_size, where, ": the tokenizer has ",
           tokens.size(), " ids, more than the model's vocab_size ", vocab_size);
  tokens.resize(static_cast<size_t>(vocab_size));
  types.resize(static_cast<size_t>(vocab_size), static_cast<int32_t>(GgufTokenType::kUnused));
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!tokens[i]) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = static_cast<int32_t>(GgufTokenType::kUnused);
    }
}

std::vector<std::string> unwrap(const std::vector<std::optional<std::string>>& tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(*t);
  return out;
}

/// The llama.cpp pre-tokenizer name whose regex is `regex`.
std::string pre_name(const std::string& regex, const std::string& where) {
  if (regex == kGpt2SplitPattern) return "gpt-2";
  if (regex == kLlama3SplitPattern) return "llama-bpe";
  if (regex == kQwen2SplitPattern) return "qwen2";
  throw Error(where + ": pre_tokenizer split regex '" + regex +
              "' is none llama.cpp knows (gguf needs GPT-2's, Llama-3's or Qwen2's)");
}

void add_bpe(GgufWriter& w, const std::filesystem::path& file, int64_t vocab_size) {
  const std::string where = file.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": not valid JSON: " + e.what());
  }
  QT_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), where,
           ": expected an object with a \"model\" object");
  const auto& model = j["model"];
  QT_CHECK(type_of(model) == "BPE" || !model.contains("type"), where,
           ": model.type: gguf's gpt2 tokenizer needs \"BPE\", got \"", type_of(model), "\"");
  QT_CHECK(model.contains("vocab") && model["vocab"].is_object(), where,
           ": model.vocab: expected an object");
  std::string regex;
  try {
    regex = j.contains("pre_tokenizer") ? split_regex(j["pre_tokenizer"]) : "";
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  QT_CHECK(!regex.empty(), where,
           ": pre_tokenizer: no split regex found (gguf's gpt2 tokenizer "
           "needs a byte-level pre-tokenizer)");
  const std::string pre = pre_name(regex, where);

  std::vector<std::optional<std::string>> tokens;
  std::vector<int32_t> types;
  auto put = [&](int64_t id, const std::string& text, GgufTokenType type) {
    QT_CHECK(id >= 0 && id < vocab_size, where, ": token '", text, "' has id ", id,
             " outside the model's vocab [0, ", vocab_size, ")");
    if (static_cast<int64_t>(tokens.size()) <= id) {
      tokens.resize(static_cast<size_t>(id + 1));
      types.resize(static_cast<size_t>(id + 1), static_cast<int32_t>(GgufTokenType::kUnused));
    }
    tokens[id] = text;
    types[id] = static_cast<int32_t>(type);
  };
  for (const auto& [text, id] : model["vocab"].items()) {
    QT_CHECK(id.is_number_integer(), where, ": model.vocab['", text, "']: expected an integer id");
    put(id.get<int64_t>(), text, GgufTokenType::kNormal);
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& a : j["added_tokens"]) {
      QT_CHECK(a.contains("id") && a["id"].is_number_integer() && a.contains("content") &&
                   a["content"].is_string(),
               where, ": added_tokens: each needs an integer id and a string content");
      put(a["id"].get<int64_t>(), a["content"].get<std::string>(),
          a.value("special", false) ? GgufTokenType::kControl : GgufTokenType::kUserDefined);
    }
  pad_vocab(tokens, types, vocab_size, where);

  std::vector<std::string> merges;
  if (model.contains("merges") && model["merges"].is_array())
    for (const auto& m : model["merges"]) {
      if (m.is_string()) {
        merges.push_back(m.get<std::string>());
      } else {
        QT_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where,
                 ": model.merges: expected \"a b\" strings or [a, b] pairs");
        merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      }
    }

  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", pre);
  w.add_string_array("tokenizer.ggml.tokens", unwrap(tokens));
  w.add_int32_array("tokenizer.ggml.token_type", types);
  w.add_string_array("tokenizer.ggml.merges", merges);
}

// ---- SentencePiece: the few fields of sentencepiece_model.proto gguf needs,
// read from the protobuf wire format (ModelProto: 1 = pieces {1 piece, 2 score,
// 3 type}, 2 = trainer_spec {40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id},
// 3 = normalizer_spec {3 add_dummy_prefix}).

struct ProtoReader {
  const uint8_t* p;
  const uint8_t* end;
  std::string where;

  bool done() const { return p >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      QT_CHECK(p < end, where, ": truncated protobuf varint");
      const uint8_t b = *p++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Error(where + ": malformed protobuf varint");
  }
  ProtoReader sub() {
    const uint64_t n = varint();
    QT_CHECK(n <= static_cast<uint64_t>(end - p), where, ": truncated protobuf field");
    ProtoReader r{p, p + n, where};
    p += n;
    return r;
  }
  uint32_t fixed32() {
    QT_CHECK(end - p >= 4, where, ": truncated protobuf fixed32");
    uint32_t v = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                 static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
    p += 4;
    return v;
  }
  void skip(int wire) {
    if (wire == 0) {
      varint();
    } else if (wire == 1) {
      QT_CHECK(end - p >= 8, where, ": truncated protobuf fixed64");
      p += 8;
    } else if (wire == 2) {
      sub();
    } else if (wire == 5) {
      fixed32();
    } else {
      throw Error(where + ": unsupported protobuf wire type " + std::to_string(wire));
    }
  }
};

void add_sentencepiece(GgufWriter& w, const std::filesystem::path& file, int64_t vocab_size) {
  const std::string where = file.string();
  const std::string bytes = read_file(file);
  ProtoReader r{reinterpret_cast<const uint8_t*>(bytes.data()),
                reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size(), where};
  std::vector<std::optional<std::string>> tokens;
  std::vector<int32_t> types;
  std::vector<float> scores;
  bool add_dummy_prefix = true;
  int64_t pad_id = -1;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      ProtoReader piece = r.sub();
      std::string text;
      float score = 0.0f;
      int32_t type = 1;  // NORMAL, the proto's default
      while (!piece.done()) {
        const uint64_t k = piece.varint();
        const int f = static_cast<int>(k >> 3), wt = static_cast<int>(k & 7);
        if (f == 1 && wt == 2) {
          ProtoReader s = piece.sub();
          text.assign(reinterpret_cast<const char*>(s.p), s.end - s.p);
        } else if (f == 2 && wt == 5) {
          const uint32_t u = piece.fixed32();
          std::memcpy(&score, &u, 4);
        } else if (f == 3 && wt == 0) {
          type = static_cast<int32_t>(piece.varint());
        } else {
          piece.skip(wt);
        }
      }
      QT_CHECK(type >= 1 && type <= 6, where, ": piece '", text, "' has unknown type ", type);
      tokens.push_back(text);
      types.push_back(type);
      scores.push_back(score);
    } else if (field == 2 && wire == 2) {
      ProtoReader spec = r.sub();
      while (!spec.done()) {
        const uint64_t k = spec.varint();
        const int f = static_cast<int>(k >> 3), wt = static_cast<int>(k & 7);
        if (f == 43 && wt == 0)
          pad_id = static_cast<int32_t>(static_cast<uint32_t>(spec.varint()));
        else
          spec.skip(wt);
      }
    } else if (field == 3 && wire == 2) {
      ProtoReader spec = r.sub();
      while (!spec.done()) {
        const uint64_t k = spec.varint();
        const int f = static_cast<int>(k >> 3), wt = static_cast<int>(k & 7);
        if (f == 3 && wt == 0)
          add_dummy_prefix = spec.varint() != 0;
        else
          spec.skip(wt);
      }
    } else {
      r.skip(wire);
    }
  }
  QT_CHECK(!tokens.empty(), where, ": no pieces (not a SentencePiece model?)");
  const size_t pieces = tokens.size();
  pad_vocab(tokens, types, vocab_size, where);
  scores.resize(tokens.size(), -1000.0f);
  std::optional<int64_t> unk;
  for (size_t i = 0; i < pieces; ++i)
    if (types[i] == static_cast<int32_t>(GgufTokenType::kUnknown) && !unk) unk = i;

  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string("tokenizer.ggml.pre", "default");
  w.add_string_array("tokenizer.ggml.tokens", unwrap(tokens));
  w.add_float32_array("tokenizer.ggml.scores", scores);
  w.add_int32_array("tokenizer.ggml.token_type", types);
  if (unk) w.add_uint32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(*unk));
  if (pad_id >= 0 && pad_id < vocab_size)
    w.add_uint32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad_id));
  w.add_bool("tokenizer.ggml.add_space_prefix", add_dummy_prefix);
}

}  // namespace

void add_gguf_tokenizer(GgufWriter& w, const std::filesystem::path& dir, int64_t vocab_size) {
  const bool bpe = std::filesystem::exists(dir / "tokenizer.json");
  if (bpe) {
    try {
      add_bpe(w, dir / "tokenizer.json", vocab_size);
    } catch (const nlohmann::json::exception& e) {
      throw Error((dir / "tokenizer.json").string() + ": a field has the wrong type: " + e.what());
    }
  } else if (std::filesystem::exists(dir / "tokenizer.model"))
    add_sentencepiece(w, dir / "tokenizer.model", vocab_size);
  else
    throw Error(dir.string() + ": no tokenizer.json or tokenizer.model (gguf needs the tokenizer)");
  // The ids qtune's own tokenizer uses, so llama.cpp tokenizes as qtune does.
  const TokenizerPtr tok = load_tokenizer(dir);
  if (tok->bos_id())
    w.add_uint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*tok->bos_id()));
  if (tok->eos_id())
    w.add_uint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*tok->eos_id()));
  w.add_bool("tokenizer.ggml.add_bos_token", tok->bos_id().has_value());
  w.add_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace qtune
