// The external evaluator of a tuning config (evaluation: {command: ...}): the
// model is saved in qtune's form to a fresh temporary directory and the
// user's command scores it, as INC's eval_fn does for Python users.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "models/data_options.h"
#include "models/evaluator.h"
#include "models/model.h"
#include "quantizers/quantizer.h"

namespace qtune {

/// `s` in single quotes for sh, each ' written as '\''.
std::string shell_quote(const std::string& s);

/// Runs cmd.command through `sh -c` with every "{model_dir}" replaced by the
/// shell-quoted `model_dir`, stdin from /dev/null, in its own process group
/// (killed whole at the timeout). Its stdout must be one JSON object holding
/// the number cmd.metric. A non-zero exit, a signal, a timeout, stdout that is
/// not a JSON object, or a missing or non-numeric metric -> qtune::Error whose
/// one line says which, with the command's last stderr line where it has one.
EvalResult run_eval_command(const EvalCommand& cmd, const std::filesystem::path& model_dir);

/// Saves `model` (quantized with `config`, `reports`; an fp32 model with
/// empty reports) to a temporary directory, exports it to cmd.export_format
/// when one is set (a model with no quantized layer stays in qtune's form for
/// the directory formats, hf-gptq and hf-awq, which refuse it), runs the
/// command on the result and removes the directory. An export that fails is
/// a qtune::Error with the exporter's line.
EvalResult evaluate_with_command(const EvalCommand& cmd, const Model& model,
                                 const QuantConfig& config,
                                 const std::vector<LayerReport>& reports);

}  // namespace qtune
