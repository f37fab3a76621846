// Evaluators turn a model and data into one number.
#pragma once

#include <functional>
#include <string>

#include "common/json.h"
#include "models/dataset.h"
#include "models/model.h"

namespace qtune {

struct EvalResult {
  std::string metric;  ///< "accuracy", later "perplexity", or a user's name
  double value = 0;
  bool higher_is_better = true;
  int64_t samples = 0;
  /// Further numbers of the same evaluation (perplexity: bits_per_byte, tokens),
  /// recorded with the trial and printed by `qtune eval --json`.
  Json details = Json::object();
};

/// A user callback (library API): any function of the model.
using EvalFn = std::function<EvalResult(const Model&)>;

/// Top-1 accuracy over `data` in batches of `batch`.
EvalResult evaluate_top1(const Model& model, const Dataset& data, int64_t batch = 500);

}  // namespace qtune
