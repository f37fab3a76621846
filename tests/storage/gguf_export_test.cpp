// GGUF export: the container writer's bytes and ggml's blocks worked by hand,
// then builtin:tiny-lm-micro quantized with RTN, exported, and read back by
// the independent reader in gguf_reader.cpp: every metadata key, every
// tensor's offset and alignment, and the decoded weights (q/k rows put back
// in HF's order by the converter's permutation, written out here by its
// formula) against qtune's dequantized weights.
#include "storage/formats/gguf_export.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>

#include "backends/backend_list.h"
#include "common/fp16.h"
#include "common/json.h"
#include "models/builtin.h"
#include "models/llama/llama_model.h"
#include "models/text/sentencepiece_tokenizer.h"
#include "models/text/tokenizer.h"
#include "quant/packing.h"
#include "quantizers/quantizer.h"
#include "storage/artifact.h"
#include "storage/formats/export.h"
#include "storage/formats/ggml_blocks.h"
#include "storage/formats/gguf_tokenizer.h"
#include "storage/formats/gguf_writer.h"
#include "support/random_fmnist_cnn.h"
#include "tests/storage/gguf_reader.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::GgufFile;
using testing::GgufTensorInfo;
using testing::half_to_float;
using testing::TempDir;

// ---- The container, byte by byte.

TEST(GgufWriter, BytesWorkedByHand) {
  GgufWriter w;
  w.add_uint32("a", 7);
  w.add_tensor("t", {1}, GgmlType::kF32, {0x00, 0x00, 0x80, 0x3F});  // 1.0f
  // clang-format off
  const std::vector<uint8_t> expected = {
      'G', 'G', 'U', 'F',                  // magic
      3, 0, 0, 0,                          // version 3
      1, 0, 0, 0, 0, 0, 0, 0,              // 1 tensor
      1, 0, 0, 0, 0, 0, 0, 0,              // 1 metadata entry
      1, 0, 0, 0, 0, 0, 0, 0, 'a',         // key "a"
      4, 0, 0, 0,                          // type u32
      7, 0, 0, 0,                          // 7
      1, 0, 0, 0, 0, 0, 0, 0, 't',         // tensor name "t"
      1, 0, 0, 0,                          // 1 dim
      1, 0, 0, 0, 0, 0, 0, 0,              // ne[0] = 1
      0, 0, 0, 0,                          // F32
      0, 0, 0, 0, 0, 0, 0, 0,              // offset 0: 74 bytes so far,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     // 22 bytes of padding to 96
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0x00, 0x00, 0x80, 0x3F,              // the data at 96 (1.0f),
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // padded to 128
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  // clang-format on
  EXPECT_EQ(w.bytes(), expected);
}

TEST(GgufWriter, RefusesWhatTheFormatCannotHold) {
  GgufWriter w;
  w.add_string("k", "v");
  expect_error([&] { w.add_string("k", "again"); }, "'k' added twice");
  expect_error(
      [&] {
        w.add_tensor("q", {48, 2}, GgmlType::kQ4_0, std::vector<uint8_t>(36));
      },
      "multiple of 32");
  expect_error(
      [&] {
        w.add_tensor("q", {32, 2}, GgmlType::kQ4_0, std::vector<uint8_t>(35));
      },
      "expected 36 bytes");
}

TEST(GgufWriter, WritesAtomicallyAndTheReaderAgrees) {
  TempDir dir;
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string_array("s", {"", "x", "Ġthe"});
  w.add_int32_array("i", {-1, 2});
  w.add_float32_array("f", {0.5f});
  w.add_bool("b", true);
  w.add_uint32("general.alignment", 32);
  // Sizes that are not multiples of 32 bytes force padding between tensors.
  for (int n : {1, 3, 7, 9, 17, 33}) {
    std::vector<uint8_t> data(static_cast<size_t>(n) * 4);
    for (int k = 0; k < n; ++k) {
      const float v = static_cast<float>(k + n);
      std::memcpy(data.data() + 4 * k, &v, 4);
    }
    w.add_tensor("t" + std::to_string(n), {n}, GgmlType::kF32, data);
  }
  w.write(dir / "x.gguf");
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename(), "x.gguf") << "a temporary file was left behind";
  const GgufFile f = testing::read_gguf(dir / "x.gguf");
  EXPECT_EQ(f.keys, (std::vector<std::string>{"general.architecture", "s", "i", "f", "b",
                                              "general.alignment"}));
  EXPECT_EQ(f.at("s").strings, (std::vector<std::string>{"", "x", "Ġthe"}));
  EXPECT_EQ(f.at("i").ints, (std::vector<int64_t>{-1, 2}));
  EXPECT_EQ(f.at("f").floats, (std::vector<double>{0.5}));
  EXPECT_EQ(f.at("b").i, 1);
  ASSERT_EQ(f.tensors.size(), 6u);
  for (const GgufTensorInfo& t : f.tensors) {
    const int n = static_cast<int>(t.ne[0]);
    const std::vector<float> v = f.decode(t);
    ASSERT_EQ(v.size(), static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) EXPECT_EQ(v[k], static_cast<float>(k + n)) << t.name;
  }
}

// ---- ggml blocks, worked by hand.

TEST(GgmlBlocks, Fp16RoundsToNearestEven) {
  EXPECT_EQ(fp16_from_float(1.0f), 0x3C00);
  EXPECT_EQ(fp16_from_float(-2.0f), 0xC000);
  EXPECT_EQ(fp16_from_float(0.5f), 0x3800);
  EXPECT_EQ(fp16_from_float(1.0f + 0x1p-11f), 0x3C00);      // tie: to even (down)
  EXPECT_EQ(fp16_from_float(1.0f + 3 * 0x1p-11f), 0x3C02);  // tie: to even (up)
  EXPECT_EQ(fp16_from_float(0x1p-24f), 0x0001);             // smallest subnormal
  EXPECT_EQ(fp16_from_float(70000.0f), 0x7C00);             // overflow: inf
  for (uint16_t h : {0x0001, 0x03FF, 0x0400, 0x3555, 0x7BFF, 0x8001, 0xC00F})
    EXPECT_EQ(fp16_from_float(half_to_float(h)), h);
}

// Codes of one block: elements 0..15 count up from the bottom of the range,
// 16..31 count down from the top, so a swapped nibble order shows.
std::vector<int32_t> ramp(int32_t lo, int32_t hi) {
  std::vector<int32_t> c(32);
  for (int j = 0; j < 16; ++j) {
    c[j] = lo + j;
    c[j + 16] = hi - j;
  }
  return c;
}

TEST(GgmlBlocks, Q4_0ByHand) {
  // codes -8..7 then 7..-8, d = 0.5:
  //   | 00 38 | F0 E1 D2 C3 B4 A5 96 87 78 69 5A 4B 3C 2D 1E 0F |
  //   qs[j] low nibble = code_j + 8 = j, high nibble = code_(j+16) + 8 = 15 - j
  const std::vector<int32_t> codes = ramp(-8, 7);
  const float d = 0.5f;
  const std::vector<uint8_t> expected = {0x00, 0x38, 0xF0, 0xE1, 0xD2, 0xC3, 0xB4, 0xA5, 0x96,
                                         0x87, 0x78, 0x69, 0x5A, 0x4B, 0x3C, 0x2D, 0x1E, 0x0F};
  EXPECT_EQ(encode_q4_0(codes.data(), &d, 32), expected);
}

TEST(GgmlBlocks, Q4_1ByHand) {
  // codes 0..15 then 15..0, scale 0.25, zero 3: d = 0.25 (34 00), m = -0.75 (BA 00):
  //   | 00 34 | 00 BA | F0 E1 D2 C3 B4 A5 96 87 78 69 5A 4B 3C 2D 1E 0F |
  const std::vector<int32_t> codes = ramp(0, 15);
  const float d = 0.25f, m = -0.25f * 3;
  const std::vector<uint8_t> expected = {0x00, 0x34, 0x00, 0xBA, 0xF0, 0xE1, 0xD2,
                                         0xC3, 0xB4, 0xA5, 0x96, 0x87, 0x78, 0x69,
                                         0x5A, 0x4B, 0x3C, 0x2D, 0x1E, 0x0F};
  EXPECT_EQ(encode_q4_1(codes.data(), &d, &m, 32), expected);
}

TEST(GgmlBlocks, Q8_0ByHand) {
  // codes -128, 127, 0, 1, -1, then 27 x 5; d = 1.0:
  //   | 00 3C | 80 7F 00 01 FF 05 05 ... 05 |
  std::vector<int32_t> codes(32, 5);
  codes[0] = -128;
  codes[1] = 127;
  codes[2] = 0;
  codes[3] = 1;
  codes[4] = -1;
  const float d = 1.0f;
  std::vector<uint8_t> expected = {0x00, 0x3C, 0x80, 0x7F, 0x00, 0x01, 0xFF};
  expected.resize(34, 0x05);
  EXPECT_EQ(encode_q8_0(codes.data(), &d, 32), expected);
}

TEST(GgmlBlocks, RequantizeFollowsGgmlReference) {
  // ggml's Q4_0: the signed extreme -3.2 maps to code -8: d = 0.4; 1.0 -> trunc(2.5 + 8.5) = 11
  // -> 3.
  std::vector<float> x(32, 0.0f);
  x[0] = -3.2f;
  x[1] = 1.0f;
  x[2] = 0.2f;  // 0.5 + 8.5 = 9 -> code 1: ggml rounds half up
  const std::vector<uint8_t> b = requantize_q4_0(x.data(), 32);
  EXPECT_EQ(half_to_float(static_cast<uint16_t>(b[0] | b[1] << 8)),
            half_to_float(fp16_from_float(0.4f)));
  EXPECT_EQ(b[2] & 0x0F, 0);   // -8 + 8
  EXPECT_EQ(b[3] & 0x0F, 11);  // 3 + 8
  EXPECT_EQ(b[4] & 0x0F, 9);   // 1 + 8
  EXPECT_EQ(b[5] & 0x0F, 8);   // 0
  // Q8_0: d = amax / 127, q = round(x / d).
  x.assign(32, 0.0f);
  x[0] = 2.54f;
  x[1] = -0.03f;  // -1.5 -> -2 (roundf: half away from zero)
  const std::vector<uint8_t> q8 = requantize_q8_0(x.data(), 32);
  EXPECT_EQ(static_cast<int8_t>(q8[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(q8[3]), -2);
}

// ---- Export of the micro LM.

constexpr const char* kMicro = "builtin:tiny-lm-micro";

std::filesystem::path micro_dir() {
  for (const BuiltinInfo& b : list_builtin_models(QTUNE_TEST_CACHE_DIR))
    if (b.spec == kMicro) return b.path;
  return {};
}

ModelPtr load_micro() {
  ModelOptions o;
  o.cache_dir = QTUNE_TEST_CACHE_DIR;
  return load_model(kMicro, o);
}

ModelPtr rtn_micro(const Json& params) {
  ModelPtr m = load_micro();
  const QuantConfig config =
      QuantConfig::from_json(Json{{"algorithm", "rtn"}, {"params", params}}, "test");
  quantize(*m, config);
  return m;
}

ExportReport export_to(const Model& m, const std::filesystem::path& file, bool requantize = false) {
  ExportInput in;
  in.model = &m;
  in.files_dir = micro_dir();
  in.options.requantize = requantize;
  return find_export_format("gguf").run(in, file);
}

/// The HF row of gguf row r of a q/k projection with `heads` heads of `d` rows:
/// the converter's permute, by its formula (row h*d + 2i + j holds h*d + j*d/2 + i).
int64_t hf_row(int64_t r, int64_t d) {
  const int64_t h = r / d, i = (r % d) / 2, j = r % 2;
  return h * d + j * (d / 2) + i;
}

/// Decoded gguf tensor [rows, cols] in HF row order.
at::Tensor decoded(const GgufFile& f, const std::string& name, int64_t head_dim) {
  const GgufTensorInfo* t = f.find(name);
  if (t == nullptr) throw std::runtime_error("no tensor " + name);
  std::vector<float> v = f.decode(*t);
  const int64_t cols = t->ne[0], rows = t->numel() / cols;
  at::Tensor g = at::from_blob(v.data(), {rows, cols}, at::kFloat).clone();
  if (head_dim == 0) return g;
  at::Tensor hf = at::empty_like(g);
  for (int64_t r = 0; r < rows; ++r) hf[hf_row(r, head_dim)] = g[r];
  return hf;
}

struct RtnCase {
  const char* name;
  Json params;
  uint32_t ggml_type;  ///< of the projections
  uint32_t file_type;
};

std::ostream& operator<<(std::ostream& os, const RtnCase& c) { return os << c.name; }

class GgufMicroExport : public ::testing::TestWithParam<RtnCase> {};

TEST_P(GgufMicroExport, DecodesToQtunesWeights) {
  const RtnCase& c = GetParam();
  const ModelPtr m = rtn_micro(c.params);
  const auto& lm = dynamic_cast<const LlamaModel&>(*m);
  const LlamaConfig& cfg = lm.config();
  TempDir dir;
  const ExportReport report = export_to(*m, dir / "micro.gguf");
  EXPECT_EQ(report.written, dir / "micro.gguf");
  const GgufFile f = testing::read_gguf(dir / "micro.gguf");

  // Every metadata key, and nothing else.
  const std::set<std::string> expected_keys = {"general.architecture",
                                               "general.name",
                                               "general.alignment",
                                               "general.quantization_version",
                                               "general.file_type",
                                               "llama.vocab_size",
                                               "llama.context_length",
                                               "llama.embedding_length",
                                               "llama.block_count",
                                               "llama.feed_forward_length",
                                               "llama.rope.dimension_count",
                                               "llama.rope.freq_base",
                                               "llama.attention.head_count",
                                               "llama.attention.head_count_kv",
                                               "llama.attention.key_length",
                                               "llama.attention.value_length",
                                               "llama.attention.layer_norm_rms_epsilon",
                                               "tokenizer.ggml.model",
                                               "tokenizer.ggml.pre",
                                               "tokenizer.ggml.tokens",
                                               "tokenizer.ggml.token_type",
                                               "tokenizer.ggml.merges",
                                               "tokenizer.ggml.bos_token_id",
                                               "tokenizer.ggml.eos_token_id",
                                               "tokenizer.ggml.add_bos_token",
                                               "tokenizer.ggml.add_eos_token"};
  EXPECT_EQ(std::set<std::string>(f.keys.begin(), f.keys.end()), expected_keys);
  EXPECT_EQ(f.at("general.architecture").s, "llama");
  EXPECT_EQ(f.alignment, 32u);
  EXPECT_EQ(f.at("general.file_type").i, c.file_type);
  EXPECT_EQ(f.at("llama.vocab_size").i, cfg.vocab_size);
  EXPECT_EQ(f.at("llama.context_length").i, 64);
  EXPECT_EQ(f.at("llama.embedding_length").i, 64);
  EXPECT_EQ(f.at("llama.block_count").i, 2);
  EXPECT_EQ(f.at("llama.feed_forward_length").i, 128);
  EXPECT_EQ(f.at("llama.rope.dimension_count").i, 16);
  EXPECT_EQ(f.at("llama.rope.freq_base").f, 10000.0);
  EXPECT_EQ(f.at("llama.attention.head_count").i, 4);
  EXPECT_EQ(f.at("llama.attention.head_count_kv").i, 2);
  EXPECT_FLOAT_EQ(static_cast<float>(f.at("llama.attention.layer_norm_rms_epsilon").f), 1e-5f);
  EXPECT_EQ(f.at("general.alignment").type, 4u);

  // The tokenizer, against tokenizer.json read here with nlohmann.
  nlohmann::json tj;
  std::ifstream(micro_dir() / "tokenizer.json") >> tj;
  EXPECT_EQ(f.at("tokenizer.ggml.model").s, "gpt2");
  EXPECT_EQ(f.at("tokenizer.ggml.pre").s, "gpt-2");
  const auto& tokens = f.at("tokenizer.ggml.tokens").strings;
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), cfg.vocab_size);
  for (const auto& [text, id] : tj["model"]["vocab"].items())
    EXPECT_EQ(tokens[id.get<size_t>()], text);
  std::vector<std::string> merges;
  for (const auto& mj : tj["model"]["merges"]) merges.push_back(mj.get<std::string>());
  EXPECT_EQ(f.at("tokenizer.ggml.merges").strings, merges);
  const auto& types = f.at("tokenizer.ggml.token_type").ints;
  ASSERT_EQ(types.size(), tokens.size());
  for (size_t id = 0; id < types.size(); ++id)
    EXPECT_EQ(types[id], tokens[id] == "<|endoftext|>" ? 3 : 1) << tokens[id];
  const TokenizerPtr tok = load_tokenizer(micro_dir());
  ASSERT_TRUE(tok->bos_id().has_value());
  EXPECT_EQ(f.at("tokenizer.ggml.bos_token_id").i, *tok->bos_id());
  EXPECT_EQ(f.at("tokenizer.ggml.eos_token_id").i, *tok->eos_id());
  EXPECT_EQ(f.at("tokenizer.ggml.add_bos_token").i, 1);

  // Tensors: llama.cpp's names, tied output left out, norms F32 and exact.
  const auto extra = lm.extra_tensors();
  EXPECT_EQ(f.tensors.size(), 1u + 9u * 2 + 1u);
  EXPECT_EQ(f.find("output"), nullptr);
  EXPECT_EQ(f.find("output.weight"), nullptr);
  EXPECT_TRUE(at::equal(decoded(f, "token_embd.weight", 0), extra.at("model.embed_tokens.weight")));
  EXPECT_TRUE(
      at::equal(decoded(f, "output_norm.weight", 0).view({-1}), extra.at("model.norm.weight")));
  const char* const proj[] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                              "ffn_gate", "ffn_up", "ffn_down"};
  int64_t compared = 0;
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    const std::string hf = "model.layers." + std::to_string(i) + ".";
    EXPECT_TRUE(at::equal(decoded(f, blk + "attn_norm.weight", 0).view({-1}),
                          extra.at(hf + "input_layernorm.weight")));
    EXPECT_TRUE(at::equal(decoded(f, blk + "ffn_norm.weight", 0).view({-1}),
                          extra.at(hf + "post_attention_layernorm.weight")));
    for (int j = 0; j < kProjPerLayer; ++j) {
      const std::string name = blk + proj[j] + ".weight";
      const GgufTensorInfo* t = f.find(name);
      ASSERT_NE(t, nullptr) << name;
      EXPECT_EQ(t->type, c.ggml_type) << name;
      const LayerSlot& slot = m->layer(llama_layer_name(i, j));
      const QuantizedWeight* qw = slot.kernel()->quantized_weight();
      ASSERT_NE(qw, nullptr) << name;
      EXPECT_EQ(t->ne, (std::vector<int64_t>{qw->shape[1], qw->shape[0]}));
      const at::Tensor want = qw->dequantize();
      const at::Tensor got = decoded(f, name, j <= 1 ? cfg.head_dim : 0);
      // Only the fp16 rounding of d (and of Q4_1's m = -scale * zero) may differ:
      // at most 2^-11 relative on each, so below 2^-11 * scale * |q| for sym
      // (|q| <= 2^(bits-1)) and 2^-11 * scale * (q + zero) for asym (<= 2 * 15);
      // a code off by one would differ by a whole scale step.
      const double factor = qw->spec.scheme == Scheme::kSym
                                ? std::ldexp(1.0, qw->spec.bits - 1)
                                : 2.0 * (std::ldexp(1.0, qw->spec.bits) - 1);
      const at::Tensor row_scale = qw->scale.abs().amax(1, true);
      const at::Tensor bound = row_scale * (factor * 0x1p-11 * 1.001);
      const at::Tensor err = (got - want).abs();
      EXPECT_TRUE((err <= bound).all().item<bool>())
          << name << ": max error " << err.max().item<double>() << ", bound "
          << bound.min().item<double>();
      EXPECT_GT(want.abs().sum().item<double>(), 0.0) << name;
      compared += want.numel();
    }
  }
  EXPECT_EQ(compared, 2 * (64 * 64 * 2 + 32 * 64 * 2 + 128 * 64 * 3));
  bool states_rounding = false;
  for (const std::string& n : report.notes) states_rounding |= n.find("fp16") != std::string::npos;
  EXPECT_TRUE(states_rounding);
}

INSTANTIATE_TEST_SUITE_P(
    Rtn, GgufMicroExport,
    ::testing::Values(
        RtnCase{"W4SymG32", Json{{"bits", 4}, {"group_size", 32}, {"scheme", "sym"}}, 2, 2},
        RtnCase{"W4SymG128", Json{{"bits", 4}, {"group_size", 128}, {"scheme", "sym"}}, 2, 2},
        RtnCase{"W4AsymG32", Json{{"bits", 4}, {"group_size", 32}, {"scheme", "asym"}}, 3, 3},
        RtnCase{"W4AsymG128", Json{{"bits", 4}, {"group_size", 128}, {"scheme", "asym"}}, 3, 3},
        RtnCase{"W4SymG64", Json{{"bits", 4}, {"group_size", 64}, {"scheme", "sym"}}, 2, 2},
        RtnCase{"W8SymG32", Json{{"bits", 8}, {"group_size", 32}, {"scheme", "sym"}}, 8, 7},
        RtnCase{"W8SymPerChannel", Json{{"bits", 8}, {"group_size", -1}, {"scheme", "sym"}}, 8, 7}),
    [](const ::testing::TestParamInfo<RtnCase>& i) { return std::string(i.param.name); });

TEST(GgufExport, RefusesWhatNoGgmlTypeCarriesInOneLine) {
  TempDir dir;
  const ModelPtr w3 = rtn_micro(Json{{"bits", 3}, {"group_size", 32}, {"scheme", "sym"}});
  try {
    export_to(*w3, dir / "w3.gguf");
    FAIL() << "W3 was exported";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("layer 'model.layers.0.self_attn.q_proj' has 3-bit sym"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("4-bit sym as Q4_0"), std::string::npos) << msg;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "w3.gguf"));
  const ModelPtr nf4 =
      rtn_micro(Json{{"bits", 4}, {"group_size", 32}, {"scheme", "sym"}, {"dtype", "nf4"}});
  expect_error([&] { export_to(*nf4, dir / "nf4.gguf"); },
               "layer 'model.layers.0.self_attn.q_proj' has dtype nf4");
  const ModelPtr g16 = rtn_micro(Json{{"bits", 4}, {"group_size", 16}, {"scheme", "sym"}});
  expect_error([&] { export_to(*g16, dir / "g16.gguf"); }, "group size 16");
  const ModelPtr w8a = rtn_micro(Json{{"bits", 8}, {"group_size", 32}, {"scheme", "asym"}});
  expect_error([&] { export_to(*w8a, dir / "w8a.gguf"); }, "8-bit asym");
}

TEST(GgufExport, RequantizesOnlyWhenAskedAndSaysSo) {
  TempDir dir;
  const ModelPtr w3 = rtn_micro(Json{{"bits", 3}, {"group_size", 32}, {"scheme", "asym"}});
  const ExportReport r = export_to(*w3, dir / "w3.gguf", /*requantize=*/true);
  int requantized = 0;
  for (const std::string& n : r.notes)
    requantized += n.find("re-quantized layer") != std::string::npos;
  EXPECT_EQ(requantized, 14);
  const GgufFile f = testing::read_gguf(dir / "w3.gguf");
  const GgufTensorInfo* t = f.find("blk.1.ffn_down.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, 2u);  // Q4_0
  // ggml's Q4_0 of the dequantized weight: within half a step |d| = amax / 8
  // of it, a whole step where the largest value of the other sign is clamped
  // to code 7, plus the fp16 rounding of d (|d| * 8 * 2^-11).
  const at::Tensor want =
      w3->layer("model.layers.1.mlp.down_proj").kernel()->quantized_weight()->dequantize();
  const at::Tensor got = decoded(f, "blk.1.ffn_down.weight", 0);
  const at::Tensor d = want.abs().view({want.size(0), -1, 32}).amax(2, true) / 8;
  const at::Tensor err = (got - want).abs().view({want.size(0), -1, 32});
  EXPECT_GT(want.abs().sum().item<double>(), 0.0);
  EXPECT_TRUE((err <= d * (1 + 8 * 0x1p-11) + 1e-7).all().item<bool>());
}

/// Every decoder layer of the micro LM as RTN W4 sym g32 with a g_idx (as GPTQ's
/// act_order stores it): `reorder` false = each column in its own consecutive
/// group (static groups), true = columns 0 and 32 of each layer swap groups.
ModelPtr micro_with_g_idx(bool reorder) {
  ModelPtr m = load_micro();
  QuantSpec spec;
  spec.bits = 4;
  spec.group_size = 32;
  for (LayerSlot* slot : m->layers()) {
    if (slot->name() == "lm_head") continue;
    const QuantizedWeight plain = QuantizedWeight::from_float(slot->weight(), spec);
    const int64_t cols = slot->weight().size(1);
    at::Tensor g = at::arange(cols, at::kInt).div(32, "floor").to(at::kInt);
    if (reorder) {
      g[0] = 1;
      g[32] = 0;
    }
    QuantSpec with = spec;
    with.has_g_idx = true;
    const at::Tensor codes = from_unsigned(unpack_rows(plain.packed, 4, cols), spec);
    const QuantizedWeight qw = QuantizedWeight::from_codes(
        codes, {plain.scale, at::zeros_like(plain.scale, at::kInt)}, with, plain.shape, g);
    slot->set_kernel(
        backend_by_name("eager").make_kernel(slot->kind(), qw, slot->bias(), slot->geometry()));
  }
  return m;
}

TEST(GgufExport, CarriesActOrderOnlyWithConsecutiveGroups) {
  TempDir dir;
  const ModelPtr same = micro_with_g_idx(false);
  export_to(*same, dir / "static.gguf");
  const GgufFile f = testing::read_gguf(dir / "static.gguf");
  const at::Tensor want =
      same->layer("model.layers.0.mlp.up_proj").kernel()->quantized_weight()->dequantize();
  const at::Tensor got = decoded(f, "blk.0.ffn_up.weight", 0);
  EXPECT_TRUE(at::allclose(got, want, 0, 1e-3));
  const ModelPtr reordered = micro_with_g_idx(true);
  expect_error([&] { export_to(*reordered, dir / "act_order.gguf"); },
               "layer 'model.layers.0.self_attn.q_proj' has act_order g_idx that reorders");
}

TEST(GgufExport, ASavedModelExportsTheSameFile) {
  TempDir dir;
  ModelPtr m = load_micro();
  const QuantConfig config = QuantConfig::from_json(
      Json{{"algorithm", "rtn"}, {"params", {{"bits", 4}, {"group_size", 32}, {"scheme", "asym"}}}},
      "test");
  const std::vector<LayerReport> reports = quantize(*m, config);
  save_model(*m, dir / "saved", config, reports);
  const ModelPtr loaded = load_saved_model(dir / "saved");
  export_to(*m, dir / "a.gguf");
  export_to(*loaded, dir / "b.gguf");
  const std::vector<uint8_t> a = testing::read_gguf(dir / "a.gguf").bytes;
  EXPECT_GT(a.size(), 100000u);
  EXPECT_TRUE(a == testing::read_gguf(dir / "b.gguf").bytes);
}

TEST(GgufTokenizer, SentencePieceAsLlamaCppReadsIt) {
  // LibTorch (and its protobuf) is loaded and used before SentencePiece.
  ASSERT_EQ(at::ones({3}).sum().item<float>(), 3.0f);
  TempDir dir;
  {
    std::ofstream out(dir / "corpus.txt");
    for (int i = 0; i < 4; ++i)
      out << "In the beginning God created the heaven and the earth.\n"
             "And God said, Let there be light: and there was light.\n";
  }
  train_sentencepiece("--input=" + (dir / "corpus.txt").string() +
                      " --model_prefix=" + (dir / "tokenizer").string() +
                      " --vocab_size=300 --hard_vocab_limit=false --model_type=bpe"
                      " --byte_fallback=true --character_coverage=1.0 --minloglevel=2"
                      " --num_threads=1");
  SentencePieceTokenizer sp(dir / "tokenizer.model");
  const int64_t n = sp.vocab_size();
  GgufWriter w;
  add_gguf_tokenizer(w, dir.path(), n + 3);  // a model with 3 ids more than the tokenizer
  const GgufFile f = testing::parse_gguf(w.bytes());
  EXPECT_EQ(f.at("tokenizer.ggml.model").s, "llama");
  EXPECT_EQ(f.at("tokenizer.ggml.pre").s, "default");
  const auto& tokens = f.at("tokenizer.ggml.tokens").strings;
  const auto& types = f.at("tokenizer.ggml.token_type").ints;
  const auto& scores = f.at("tokenizer.ggml.scores").floats;
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), n + 3);
  ASSERT_EQ(types.size(), tokens.size());
  ASSERT_EQ(scores.size(), tokens.size());
  int normal = 0, bytes = 0;
  for (int64_t id = 0; id < n; ++id) {
    EXPECT_EQ(sp.token_to_id(tokens[id]), id) << tokens[id];
    const std::string& t = tokens[id];
    const int64_t want = t == "<unk>"                              ? 2
                         : t == "<s>" || t == "</s>"               ? 3
                         : t.size() == 6 && t.rfind("<0x", 0) == 0 ? 6
                                                                   : 1;
    EXPECT_EQ(types[id], want) << t;
    normal += want == 1;
    bytes += want == 6;
  }
  EXPECT_EQ(bytes, 256);
  EXPECT_GT(normal, 10);
  for (int64_t id = n; id < n + 3; ++id) {
    EXPECT_EQ(tokens[id], "[PAD" + std::to_string(id) + "]");
    EXPECT_EQ(types[id], 5);
  }
  EXPECT_EQ(f.at("tokenizer.ggml.bos_token_id").i, *sp.bos_id());
  EXPECT_EQ(f.at("tokenizer.ggml.eos_token_id").i, *sp.eos_id());
  EXPECT_EQ(f.at("tokenizer.ggml.unknown_token_id").i, *sp.token_to_id("<unk>"));
  EXPECT_EQ(f.at("tokenizer.ggml.add_space_prefix").i, 1);
}

TEST(GgufExport, RefusesModelsItCannotWrite) {
  TempDir dir;
  const ModelPtr cnn = testing::random_fmnist_cnn(1);
  expect_error([&] { export_to(*cnn, dir / "cnn.gguf"); }, "not a Llama-family language model");
}

}  // namespace
}  // namespace qtune
