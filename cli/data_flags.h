// The data flags of `qtune quantize` and `qtune eval` (the tuning YAML's
// calibration:/evaluation: file keys, models/data_options.h).
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"
#include "models/data_options.h"

namespace qtune::cli {

/// --calibration-file, --calibration-field, --calibration-split, --seqlen.
std::vector<FlagSpec> calibration_flags();
/// --eval-file, --seqlen, --stride, --max-windows.
std::vector<FlagSpec> evaluation_flags();

/// The options those flags give (absent flags keep the defaults: built-in data).
/// A value out of range or a flag that needs another one -> UsageError.
LmDataOptions calibration_options(const Args& args);
LmDataOptions evaluation_options(const Args& args);

/// The evaluation file and windows a tuned model recorded (LmDataOptions::to_json()
/// in its qconfig.json metrics.data); `where` names that field in errors.
LmDataOptions recorded_evaluation_options(const Json& data, const std::string& where);

/// The evaluation images and normalisation a tuned classifier recorded
/// (ImageDataOptions::to_json() in metrics.image_data); `where` names it in errors.
ImageDataOptions recorded_image_options(const Json& data, const std::string& where);

}  // namespace qtune::cli
