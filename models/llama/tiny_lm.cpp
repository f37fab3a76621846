#include "models/llama/tiny_lm.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "models/llama/hf_checkpoint.h"
#include "models/llama/tiny_lm_train.h"
#include "models/text/bible_corpus.h"
#include "models/text/bpe_trainer.h"
#include "models/text/lm_calibration.h"
#include "models/text/perplexity.h"
#include "models/text/tokenizer.h"

namespace qtune {

namespace {

namespace fs = std::filesystem;

struct TinyLm {
  const char* spec;
  const char* description;
  const char* dir_name;
  LlamaConfig config;  ///< vocab_size is the BPE target; the trained tokenizer's size is used
  TinyLmRecipe recipe;
  /// Bytes of the training split used for the tokenizer and the model; 0 = all.
  int64_t text_bytes = 0;
  int64_t seqlen = 256;  ///< calibration/evaluation window
};

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

TinyLm full_lm() {
  TinyLm m{"builtin:tiny-lm", "", "tiny-lm", llama(256, 4, 4, 2, 768, 2048, 256), {}, 0, 256};
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

TinyLm micro_lm() {
  TinyLm m{"builtin:tiny-lm-micro",
           "",
           "tiny-lm-micro",
           llama(64, 2, 4, 2, 128, 512, 64),
           {},
           300000,
           64};
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

const std::vector<TinyLm>& tiny_lms() {
  static const std::vector<TinyLm> all = [] {
    std::vector<TinyLm> v{full_lm(), micro_lm()};
    v[0].description =
        "Llama-architecture LM (hidden 256, 4 layers, GQA, BPE 2048) trained on the KJV bible "
        "on first use";
    v[1].description = "the same code path scaled down (hidden 64, 2 layers, 60 steps), for tests";
    return v;
  }();
  return all;
}

const TinyLm& find(const std::string& spec) {
  for (const TinyLm& m : tiny_lms())
    if (spec == m.spec) return m;
  QT_ASSERT(false, "not a tiny LM spec: ", spec);
}

std::string tag_of(const TinyLm& m) {
  return detail::concat(m.recipe.tag(m.config), " text_bytes=", m.text_bytes,
                        " corpus=bible-kjv/split-32 bpe=gpt2-split\n");
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool is_current(const TinyLm& m, const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kTinyLmTagFile, ec) &&
         read_text(dir / kTinyLmTagFile) == tag_of(m);
}

std::string train_text(const TinyLm& m) {
  const std::string& all = bible_splits().train;
  if (m.text_bytes <= 0 || m.text_bytes >= static_cast<int64_t>(all.size())) return all;
  // Cut at a line end so no verse is split.
  size_t end = all.rfind('\n', static_cast<size_t>(m.text_bytes));
  return all.substr(0, end == std::string::npos ? m.text_bytes : end + 1);
}

}  // namespace

bool is_tiny_lm_spec(const std::string& spec) {
  for (const TinyLm& m : tiny_lms())
    if (spec == m.spec) return true;
  return false;
}

std::vector<BuiltinInfo> tiny_lm_infos(const fs::path& cache_dir) {
  std::vector<BuiltinInfo> out;
  for (const TinyLm& m : tiny_lms()) {
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

fs::path ensure_tiny_lm(const std::string& spec, const fs::path& cache_dir, bool progress) {
  const TinyLm& m = find(spec);
  const fs::path dir = cache_dir / m.dir_name;
  if (is_current(m, dir)) return dir;
  std::error_code ec;
  if (progress) {
    std::fprintf(stderr, "qtune: training %s (cached afterwards in %s)%s\n", m.spec,
                 dir.string().c_str(), fs::exists(dir, ec) ? "; the cached one is stale" : "");
  }
  // Built in a private folder, then renamed: other processes (MPI ranks) see
  // either no model or a whole one.
  const fs::path tmp = cache_dir / (std::string(m.dir_name) + ".tmp." + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  QT_CHECK(fs::is_directory(tmp, ec), tmp.string(), ": cannot create the folder: ", ec.message());
  try {
    const std::string text = train_text(m);
    BpeTrainOptions bo;
    bo.vocab_size = m.config.vocab_size;
    const BpeModel bpe = train_bpe(text, bo);
    write_tokenizer_json(bpe, tmp / "tokenizer.json");
    const TokenizerPtr tok = load_tokenizer(tmp);
    LlamaConfig config = m.config;
    config.vocab_size = tok->vocab_size();
    if (auto eot = tok->token_to_id("<|endoftext|>")) {
      config.bos_token_id = *eot;
      config.eos_token_ids = {*eot};
    }
    const std::vector<int64_t> tokens = tok->encode(text);
    const auto tensors = train_tiny_lm(config, tokens, m.recipe, progress);
    save_hf_checkpoint(tmp, config, tensors);
    std::ofstream(tmp / kTinyLmTagFile, std::ios::trunc) << tag_of(m);
    fs::remove_all(dir, ec);
    fs::rename(tmp, dir, ec);
    QT_CHECK(!ec, dir.string(), ": cannot move the trained model into place: ", ec.message());
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
  if (is_tiny_lm_spec(spec)) return find(spec).seqlen;
  return std::min<int64_t>(256, read_llama_config(dir / "config.json").max_position_embeddings);
}

TaskData lm_task_data(const fs::path& dir, int64_t seqlen, int64_t calibration_samples,
                      int64_t eval_samples, uint64_t seed) {
  QT_CHECK(calibration_samples >= 0, "calibration samples must be >= 0, got ", calibration_samples);
  QT_CHECK(seqlen >= 2, "sequence length must be >= 2, got ", seqlen);
  std::shared_ptr<Tokenizer> tok = load_tokenizer(dir);
  const TextSplits& splits = bible_splits();
  TaskData data;
  if (calibration_samples > 0) {
    data.calibration.inputs =
        sample_token_windows(tok->encode(splits.calibration), calibration_samples, seqlen, seed);
  } else {
    data.calibration.inputs = at::empty({0, seqlen}, at::kLong);
  }
  data.calibration.labels = at::empty({0}, at::kLong);
  std::vector<int64_t> heldout = tok->encode(splits.heldout);
  const int64_t windows = static_cast<int64_t>(heldout.size()) / seqlen;
  QT_CHECK(windows >= 1, dir.string(), ": the held-out text gives ", heldout.size(),
           " tokens, fewer than one window of ", seqlen);
  // eval_samples counts windows; more than there are means all of them.
  const int64_t used = eval_samples <= 0 ? windows : std::min(eval_samples, windows);
  heldout.resize(static_cast<size_t>(used * seqlen));
  data.evaluation.inputs = consecutive_token_windows(heldout, seqlen, used);
  data.evaluation.labels = at::empty({0}, at::kLong);
  PerplexityOptions po;
  po.context = seqlen;
  po.stride = seqlen;
  data.evaluator = perplexity_evaluator(
      std::move(heldout), [tok](int64_t id) { return tok->token_bytes(id); }, po);
  return data;
}

}  // namespace qtune
