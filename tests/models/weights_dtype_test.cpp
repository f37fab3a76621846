// Language-model weights held in 16 bits (ModelOptions::weights_dtype): a
// bf16/fp16 checkpoint held in its own dtype computes exactly what the fp32
// copy computes, takes half the memory, and its weights are views of the
// checkpoint's file mapping (so the processes mapping one file share its
// pages); an fp32 checkpoint held in bf16 is the rounded model.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "models/builtin.h"
#include "models/llama/hf_checkpoint.h"
#include "models/llama/llama_init.h"
#include "storage/artifact.h"
#include "tests/support/expect_error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::TempDir;

LlamaConfig config(at::ScalarType stored) {
  LlamaConfig c;
  c.hidden_size = 64;
  c.intermediate_size = 160;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 300;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = false;
  c.torch_dtype = torch_dtype_name(stored);
  return c;
}

/// A random checkpoint folder whose tensors are stored in `stored`.
void write_checkpoint(const std::filesystem::path& dir, at::ScalarType stored, bool tied = false) {
  LlamaConfig c = config(stored);
  c.tie_word_embeddings = tied;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  save_hf_checkpoint(dir, c, init_llama_tensors(c, 0.05, gen, stored));
}

std::unique_ptr<LlamaModel> load(const std::filesystem::path& dir, at::ScalarType held) {
  return load_hf_model(dir, "hf:" + dir.string(), held);
}

at::Tensor ids() { return (at::arange(0, 24, at::kLong) * 37 % 300).view({2, 12}); }

TEST(WeightsDtype, A16BitCheckpointHeldInItsDtypeComputesTheFp32Logits) {
  for (at::ScalarType stored : {at::kBFloat16, at::kHalf}) {
    for (bool tied : {false, true}) {
      TempDir dir;
      write_checkpoint(dir.path(), stored, tied);
      const auto wide = load(dir.path(), at::kFloat);
      const auto held = load(dir.path(), stored);
      const std::string what = toString(stored) + std::string(tied ? " tied" : " untied");
      for (const LayerSlot* s : held->layers()) {
        EXPECT_EQ(s->resident_weight().scalar_type(), stored) << what << " " << s->name();
        EXPECT_EQ(s->weight().scalar_type(), at::kFloat) << what << " " << s->name();
        EXPECT_TRUE(at::equal(s->weight(), wide->layer(s->name()).weight()))
            << what << " " << s->name();
      }
      EXPECT_TRUE(at::equal(held->forward(ids()), wide->forward(ids()))) << what;
      LlamaKvCache a, b;
      held->forward_cached(ids().slice(1, 0, 7), a);
      wide->forward_cached(ids().slice(1, 0, 7), b);
      EXPECT_TRUE(at::equal(held->forward_cached(ids().slice(1, 7, 8), a),
                            wide->forward_cached(ids().slice(1, 7, 8), b)))
          << what;
      // The embeddings and every Linear (lm_head too, whether it is the
      // embedding matrix or its own) take 2 bytes a weight instead of 4; the
      // norms stay fp32.
      int64_t halved = held->extra_tensors().at("model.embed_tokens.weight").numel();
      for (const LayerSlot* s : held->layers()) halved += s->resident_weight().numel();
      EXPECT_EQ(model_storage_bytes(*wide) - model_storage_bytes(*held), 2 * halved) << what;
    }
  }
}

/// The file a mapped address belongs to, from /proc/self/maps ("" if none).
std::string mapped_file_of(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    const auto dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (addr >= lo && addr < hi) return path;
  }
  return "";
}

TEST(WeightsDtype, WeightsHeldInTheCheckpointsDtypeAreViewsOfItsFileMapping) {
  TempDir dir;
  write_checkpoint(dir.path(), at::kBFloat16);
  const std::string file = std::filesystem::canonical(dir.path() / "model.safetensors").string();
  const auto held = load(dir.path(), at::kBFloat16);
  for (const LayerSlot* s : held->layers())
    EXPECT_EQ(mapped_file_of(s->resident_weight().data_ptr()), file) << s->name();
  EXPECT_EQ(mapped_file_of(held->extra_tensors().at("model.embed_tokens.weight").data_ptr()), file);
  // fp32 is an owned copy, and so is a dtype the file does not store.
  const auto wide = load(dir.path(), at::kFloat);
  const auto half = load(dir.path(), at::kHalf);
  for (LlamaModel* m : {wide.get(), half.get()})
    for (const LayerSlot* s : m->layers())
      EXPECT_NE(mapped_file_of(s->resident_weight().data_ptr()), file) << s->name();
}

TEST(WeightsDtype, AnFp32CheckpointHeldInBf16IsTheRoundedModel) {
  TempDir dir;
  write_checkpoint(dir.path(), at::kFloat);
  const HfCheckpoint ck = read_hf_checkpoint(dir.path());
  std::map<std::string, at::Tensor> rounded;
  for (const auto& [name, t] : ck.tensors)
    rounded[name] = name.find("norm") == std::string::npos ? t.to(at::kBFloat16).to(at::kFloat) : t;
  const LlamaModel reference("ref", ck.config, rounded);
  const auto held = load(dir.path(), at::kBFloat16);
  for (const LayerSlot* s : held->layers())
    EXPECT_TRUE(
        at::equal(s->resident_weight(), ck.tensors.at(s->name() + ".weight").to(at::kBFloat16)))
        << s->name();
  EXPECT_TRUE(at::equal(held->forward(ids()), reference.forward(ids())));
  EXPECT_FALSE(at::equal(held->forward(ids()), load(dir.path(), at::kFloat)->forward(ids())));
}

TEST(WeightsDtype, NamesAndErrors) {
  EXPECT_EQ(parse_weights_dtype("bf16", "x"), at::kBFloat16);
  EXPECT_EQ(parse_weights_dtype("bfloat16", "x"), at::kBFloat16);
  EXPECT_EQ(parse_weights_dtype("fp16", "x"), at::kHalf);
  EXPECT_EQ(parse_weights_dtype("float32", "x"), at::kFloat);
  testing::expect_error([] { parse_weights_dtype("int8", "--weights-dtype"); },
                        "--weights-dtype: expected float32, bfloat16 or float16 (or fp32, bf16, "
                        "fp16), got 'int8'");
  ModelOptions o;
  o.cache_dir = QTUNE_TEST_CACHE_DIR;
  o.weights_dtype = at::kBFloat16;
  testing::expect_error([&] { load_model("builtin:fmnist-cnn-tiny", o); },
                        "builtin:fmnist-cnn-tiny: weights held in BFloat16 are for language "
                        "models; the built-in CNNs keep float32");
}

}  // namespace
}  // namespace qtune
