#include "models/llama/builtin_lm.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "models/llama/hf_checkpoint.h"
#include "models/llama/llama_init.h"
#include "models/llama/lm_task_data.h"
#include "models/llama/tiny_lm_train.h"
#include "models/text/bible_corpus.h"
#include "models/text/bpe_trainer.h"
#include "models/text/lm_calibration.h"
#include "models/text/perplexity.h"
#include "models/text/tokenizer.h"
#include "models/training_record.h"

namespace qtune {

namespace {

namespace fs = std::filesystem;

LlamaConfig llama(int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads,
                  int64_t intermediate, int64_t vocab, int64_t context) {
  LlamaConfig c;
  c.model_type = "llama";
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.intermediate_size = intermediate;
  c.vocab_size = vocab;
  c.max_position_embeddings = context;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = true;
  return c;
}

BuiltinLmRecipe full_lm() {
  BuiltinLmRecipe m;
  m.spec = "builtin:tiny-lm";
  m.description =
      "Llama-architecture LM (hidden 256, 4 layers, GQA, BPE 2048) trained on the KJV bible on "
      "first use";
  m.dir_name = "tiny-lm";
  m.config = llama(256, 4, 4, 2, 768, 2048, 256);
  m.seqlen = 256;
  TinyLmRecipe& r = m.recipe;
  // ~1.2M training tokens (about one pass over the training split) in 1200
  // small steps of 4 x 256 (at a fixed token budget smaller batches learn more
  // per token). 300 steps gave a model so undertrained that W3 weights barely
  // hurt it (held-out ppl 99.4, RTN W3 g32 +0.2%): its predictions came mostly
  // from the fp32 embeddings and head, which is no test bed for quantization.
  r.steps = 1200;
  r.batch = 4;
  r.context = 256;
  r.lr = 3e-3;
  r.warmup = 20;
  r.seed = 20261128;
  r.threads = 2;
  return m;
}

BuiltinLmRecipe micro_lm() {
  BuiltinLmRecipe m;
  m.spec = "builtin:tiny-lm-micro";
  m.description = "the same code path scaled down (hidden 64, 2 layers, 60 steps), for tests";
  m.dir_name = "tiny-lm-micro";
  m.config = llama(64, 2, 4, 2, 128, 512, 64);
  m.text_bytes = 300000;
  m.seqlen = 64;
  TinyLmRecipe& r = m.recipe;
  r.steps = 60;
  r.batch = 8;
  r.context = 64;
  r.lr = 5e-3;
  r.warmup = 6;
  r.seed = 7;
  // One thread: the same weights on every machine and under any OMP_NUM_THREADS.
  r.threads = 1;
  return m;
}

BuiltinLmRecipe llama_1b_shape_lm() {
  // TinyLlama-1.1B's shapes (untied lm_head, 2048 positions). Windows of 128
  // tokens keep GPTQ over 22 layers at minutes.
  BuiltinLmRecipe m;
  m.spec = "builtin:llama-1b-shape";
  m.description =
      "TinyLlama-1.1B's shapes (hidden 2048, 22 layers, GQA 32/4, BPE 32000) with random weights "
      "(seed 20261201, N(0, 0.02)), built in under a minute: for speed measurements only (its "
      "text is noise)";
  m.dir_name = "llama-1b-shape";
  m.config = llama(2048, 22, 32, 4, 5632, 32000, 2048);
  m.config.tie_word_embeddings = false;
  m.text_bytes = 0;
  m.seqlen = 128;
  m.recipe.seed = 20261201;
  m.recipe.init_std = 0.02;
  m.trained = false;
  m.stored_dtype = at::kBFloat16;
  return m;
}

const std::vector<BuiltinLmRecipe>& builtin_lms() {
  static const std::vector<BuiltinLmRecipe> all = [] {
    return std::vector<BuiltinLmRecipe>{full_lm(), micro_lm(), llama_1b_shape_lm()};
  }();
  return all;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool is_current(const BuiltinLmRecipe& m, const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kBuiltinLmTagFile, ec) &&
         read_text(dir / kBuiltinLmTagFile) == m.tag();
}

std::string train_text(const BuiltinLmRecipe& m) {
  const std::string& all = bible_splits().train;
  if (m.text_bytes <= 0 || m.text_bytes >= static_cast<int64_t>(all.size())) return all;
  // Cut at a line end so no verse is split.
  size_t end = all.rfind('\n', static_cast<size_t>(m.text_bytes));
  return all.substr(0, end == std::string::npos ? m.text_bytes : end + 1);
}

}  // namespace

std::string BuiltinLmRecipe::tag() const {
  const std::string weights =
      trained ? recipe.tag(config)
              : detail::concat("random-init/1 config=", llama_config_to_json(config).dump(),
                               " init=", recipe.init_std, " seed=", recipe.seed,
                               " stored=", toString(stored_dtype), " bpe-pad=reserved");
  return detail::concat(weights, " text_bytes=", text_bytes,
                        " corpus=bible-kjv/split-32 bpe=gpt2-split\n");
}

const BuiltinLmRecipe& builtin_lm_recipe(const std::string& spec) {
  for (const BuiltinLmRecipe& m : builtin_lms())
    if (spec == m.spec) return m;
  QT_ASSERT(false, "not a built-in LM spec: ", spec);
}

bool is_builtin_lm_spec(const std::string& spec) {
  for (const BuiltinLmRecipe& m : builtin_lms())
    if (spec == m.spec) return true;
  return false;
}

std::vector<BuiltinInfo> builtin_lm_infos(const fs::path& cache_dir) {
  std::vector<BuiltinInfo> out;
  for (const BuiltinLmRecipe& m : builtin_lms()) {
    BuiltinInfo info;
    info.spec = m.spec;
    info.description = m.description;
    info.path = cache_dir / m.dir_name;
    info.cache_file = info.path / "model.safetensors";
    info.cached = is_current(m, info.path);
    // Calibration windows start anywhere in the calibration slice, so any count
    // up to this cap can be drawn; evaluation stops at the held-out windows there are.
    info.train_rows = 4096;
    info.test_rows = 4096;
    info.seqlen = m.seqlen;
    out.push_back(std::move(info));
  }
  return out;
}

fs::path ensure_builtin_lm(const std::string& spec, const fs::path& cache_dir, bool progress) {
  return ensure_builtin_lm(builtin_lm_recipe(spec), cache_dir, progress);
}

fs::path ensure_builtin_lm(const BuiltinLmRecipe& m, const fs::path& cache_dir, bool progress) {
  const fs::path dir = cache_dir / m.dir_name;
  if (is_current(m, dir)) return dir;
  std::error_code ec;
  if (progress) {
    std::fprintf(stderr, "qtune: %s %s (cached afterwards in %s)%s\n",
                 m.trained ? "training" : "building", m.spec.c_str(), dir.string().c_str(),
                 fs::exists(dir, ec) ? "; the cached one is stale" : "");
  }
  // Built in a private folder, then renamed: other processes (MPI ranks) see
  // either no model or a whole one.
  const fs::path tmp = cache_dir / (m.dir_name + ".tmp." + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  QT_CHECK(fs::is_directory(tmp, ec), tmp.string(), ": cannot create the folder: ", ec.message());
  try {
    const std::string text = train_text(m);
    BpeTrainOptions bo;
    bo.vocab_size = m.config.vocab_size;
    // A random model keeps TinyLlama's 32000 rows; the bible's pairs seen at
    // least twice give fewer tokens, the rest are reserved special tokens.
    bo.pad_with_reserved = !m.trained;
    const BpeModel bpe = train_bpe(text, bo);
    write_tokenizer_json(bpe, tmp / "tokenizer.json");
    const TokenizerPtr tok = load_tokenizer(tmp);
    LlamaConfig config = m.config;
    if (m.trained) config.vocab_size = tok->vocab_size();
    QT_ASSERT(tok->vocab_size() == config.vocab_size, m.spec, ": tokenizer has ", tok->vocab_size(),
              " tokens, the model ", config.vocab_size);
    if (auto eot = tok->token_to_id("<|endoftext|>")) {
      config.bos_token_id = *eot;
      config.eos_token_ids = {*eot};
    }
    std::map<std::string, at::Tensor> tensors;
    if (m.trained) {
      tensors = train_tiny_lm(config, tok->encode(text), m.recipe, progress);
    } else {
      // A private generator: the global torch seed is left alone.
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(m.recipe.seed);
      tensors = init_llama_tensors(config, m.recipe.init_std, gen, m.stored_dtype);
    }
    for (auto& [name, t] : tensors) t = t.to(m.stored_dtype);
    save_hf_checkpoint(tmp, config, tensors);
    write_training_record(training_record_path(tmp), m.spec,
                          {tmp / "config.json", tmp / "model.safetensors"});
    std::ofstream(tmp / kBuiltinLmTagFile, std::ios::trunc) << m.tag();
    fs::remove_all(dir, ec);
    fs::rename(tmp, dir, ec);
    QT_CHECK(!ec, dir.string(), ": cannot move the built model into place: ", ec.message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return dir;
}

fs::path hf_dir_of_spec(const std::string& spec) {
  if (spec.rfind("hf:", 0) == 0) {
    const fs::path dir = spec.substr(3);
    QT_CHECK(!dir.empty(), "model spec 'hf:' needs a folder (hf:DIR)");
    QT_CHECK(is_hf_checkpoint_dir(dir), "model spec '", spec, "': ", dir.string(),
             " is not a folder holding config.json");
    return dir;
  }
  if (spec.rfind("builtin:", 0) == 0) return {};
  return is_hf_checkpoint_dir(spec) ? fs::path(spec) : fs::path();
}

int64_t lm_default_seqlen(const std::string& spec, const fs::path& dir) {
  if (is_builtin_lm_spec(spec)) return builtin_lm_recipe(spec).seqlen;
  return std::min<int64_t>(256, read_llama_config(dir / "config.json").max_position_embeddings);
}

TaskData lm_task_data(const fs::path& dir, int64_t seqlen, int64_t calibration_samples,
                      int64_t eval_samples, uint64_t seed) {
  return lm_task_data(dir, seqlen, calibration_samples, eval_samples, seed, LmDataOptions{});
}

}  // namespace qtune
