// `--backend NAME|auto` of eval and bench: runs a saved model's quantized
// layers on another backend than the one they were saved (and measured) with,
// and says so in the output, since the saved result is only claimed for the
// saved backends.
#pragma once

#include <string>

#include "cli/args.h"
#include "cli/model_source.h"
#include "common/json.h"

namespace qtune::cli {

/// The flag's value, "" when absent; a UsageError (exit 2) for a name that is
/// neither auto nor a backend of the list.
std::string backend_flag(const Args& args, const std::string& command);

/// For --json: "backends" and "backend_details" (what ran, per layer kind:
/// {"Linear": "native", "Conv2d": "eager"}, "+"-joined when a kind ran on
/// several), "backend_override" (whether --backend was given) and, for a saved
/// model, "saved_backends" (what it was saved with, the same way).
Json backend_fields(const LoadedModel& loaded);

/// A line for the text output when --backend was given, else "".
std::string backend_note(const LoadedModel& loaded);

}  // namespace qtune::cli
