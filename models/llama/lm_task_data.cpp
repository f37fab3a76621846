#include "models/llama/lm_task_data.h"

#include <algorithm>
#include <memory>

#include "common/error.h"
#include "models/llama/llama_config.h"
#include "models/text/bible_corpus.h"
#include "models/text/lm_calibration.h"
#include "models/text/perplexity.h"
#include "models/text/text_documents.h"
#include "models/text/tokenizer.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> calibration_documents(const LmDataOptions& d) {
  if (d.calibration_format == "jsonl")
    return read_jsonl_documents(d.calibration_file, d.jsonl_field);
  QT_ASSERT(d.calibration_format == "text", "unknown calibration format ", d.calibration_format);
  return read_text_documents(d.calibration_file, d.one_document_per_line);
}

// Documents are tokenized one by one, so that no token spans two of them, and
// joined with the end-of-sequence token as the model saw documents end in training.
std::vector<int64_t> document_stream(const std::vector<std::string>& docs, const Tokenizer& tok,
                                     const LlamaConfig& config) {
  std::vector<int64_t> stream;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i > 0 && !config.eos_token_ids.empty()) stream.push_back(config.eos_token_ids.front());
    const std::vector<int64_t> ids = tok.encode(docs[i]);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  return stream;
}

void check_window(int64_t seqlen, const LlamaConfig& config, const char* what) {
  QT_CHECK(seqlen >= 2 && seqlen <= config.max_position_embeddings, what,
           " must be in [2, the model's context ", config.max_position_embeddings, "], got ",
           seqlen);
}

}  // namespace

TaskData lm_task_data(const fs::path& dir, int64_t builtin_seqlen, int64_t calibration_samples,
                      int64_t eval_samples, uint64_t seed, const LmDataOptions& data) {
  QT_CHECK(calibration_samples >= 0, "calibration samples must be >= 0, got ", calibration_samples);
  QT_CHECK(builtin_seqlen >= 2, "sequence length must be >= 2, got ", builtin_seqlen);
  std::shared_ptr<Tokenizer> tok = load_tokenizer(dir);
  const LlamaConfig config = read_llama_config(dir / "config.json");
  const int64_t file_seqlen = std::min<int64_t>(2048, config.max_position_embeddings);
  TaskData out;

  const bool calib_file = !data.calibration_file.empty();
  const int64_t calib_len = data.calibration_seqlen > 0 ? data.calibration_seqlen
                            : calib_file                ? file_seqlen
                                                        : builtin_seqlen;
  if (data.calibration_seqlen > 0) check_window(calib_len, config, "calibration seqlen");
  const uint64_t calib_seed =
      data.calibration_seed >= 0 ? static_cast<uint64_t>(data.calibration_seed) : seed;
  if (calibration_samples > 0) {
    if (calib_file) {
      const std::vector<int64_t> stream =
          document_stream(calibration_documents(data), *tok, config);
      QT_CHECK(static_cast<int64_t>(stream.size()) >= calib_len, data.calibration_file, ": gives ",
               stream.size(), " tokens, fewer than one calibration window of ", calib_len);
      out.calibration.inputs =
          sample_token_windows(stream, calibration_samples, calib_len, calib_seed);
    } else {
      out.calibration.inputs = sample_token_windows(tok->encode(bible_splits().calibration),
                                                    calibration_samples, calib_len, calib_seed);
    }
  } else {
    out.calibration.inputs = at::empty({0, calib_len}, at::kLong);
  }
  out.calibration.labels = at::empty({0}, at::kLong);

  PerplexityOptions po;
  std::vector<int64_t> tokens;
  if (!data.eval_file.empty()) {
    const int64_t len = data.eval_seqlen > 0 ? data.eval_seqlen : file_seqlen;
    check_window(len, config, "evaluation seqlen");
    const int64_t stride = data.stride > 0 ? data.stride : len;
    QT_CHECK(stride <= len, "evaluation stride must be in [1, seqlen=", len, "], got ", stride);
    tokens = tok->encode(read_text_file(data.eval_file));
    // A window feeds `len` tokens and scores the token after each: len + 1 tokens.
    QT_CHECK(static_cast<int64_t>(tokens.size()) > len, data.eval_file, ": gives ", tokens.size(),
             " tokens, fewer than one evaluation window of ", len, " (+1 for its last target)");
    if (data.max_windows > 0) {
      // Windows start every `stride` tokens and the k-th (from 0) ends at k*stride+len:
      // (max_windows-1)*stride + len + 1 tokens make exactly max_windows full windows.
      const int64_t keep = (data.max_windows - 1) * stride + len + 1;
      if (keep < static_cast<int64_t>(tokens.size())) tokens.resize(static_cast<size_t>(keep));
    }
    out.evaluation.inputs = consecutive_token_windows(tokens, len);
    po.context = len;
    po.stride = stride;
  } else {
    std::vector<int64_t> heldout = tok->encode(bible_splits().heldout);
    const int64_t windows = static_cast<int64_t>(heldout.size()) / builtin_seqlen;
    QT_CHECK(windows >= 1, dir.string(), ": the held-out text gives ", heldout.size(),
             " tokens, fewer than one window of ", builtin_seqlen);
    // eval_samples counts windows; more than there are means all of them.
    const int64_t used = eval_samples <= 0 ? windows : std::min(eval_samples, windows);
    heldout.resize(static_cast<size_t>(used * builtin_seqlen));
    out.evaluation.inputs = consecutive_token_windows(heldout, builtin_seqlen, used);
    tokens = std::move(heldout);
    po.context = builtin_seqlen;
    po.stride = builtin_seqlen;
  }
  out.evaluation.labels = at::empty({0}, at::kLong);
  out.evaluator = perplexity_evaluator(
      std::move(tokens), [tok](int64_t id) { return tok->token_bytes(id); }, po);
  return out;
}

}  // namespace qtune
