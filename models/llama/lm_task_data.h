// A language model's task data from the built-in text or the user's files.
// Private to models/ (builtin.cpp dispatches here).
#pragma once

#include <cstdint>
#include <filesystem>

#include "models/builtin.h"
#include "models/data_options.h"

namespace qtune {

/// Calibration windows, held-out windows and the perplexity evaluator of the
/// language model whose folder (config.json, tokenizer files) is `dir`.
///
/// Calibration: `calibration_samples` windows drawn with the seed, either
/// from the bible's calibration slice (`builtin_seqlen` tokens unless
/// data.calibration_seqlen says otherwise) or from data.calibration_file: each
/// document is tokenized on its own with the model's tokenizer, the documents
/// are joined in file order with the model's end-of-sequence token between
/// them, and windows of min(2048, context) tokens (or calibration_seqlen)
/// start at uniformly drawn positions of that stream.
///
/// Evaluation: without data.eval_file, consecutive held-out bible windows
/// (`eval_samples` of them, <= 0 = all). With it: sliding-window perplexity
/// (models/text/perplexity.h) over the whole file as one token stream, windows
/// of eval_seqlen (default min(2048, context)) tokens every `stride` tokens,
/// cut to the first max_windows windows when set.
///
/// A file that is unreadable, empty, malformed (JSON Lines) or too short for
/// one window -> qtune::Error naming it.
TaskData lm_task_data(const std::filesystem::path& dir, int64_t builtin_seqlen,
                      int64_t calibration_samples, int64_t eval_samples, uint64_t seed,
                      const LmDataOptions& data);

}  // namespace qtune
