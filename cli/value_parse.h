// Turning user-written text (--set key=value, a quantize --config YAML) into JSON values.
#pragma once

#include <filesystem>
#include <string>

#include "common/json.h"

namespace qtune::cli {

/// "4" -> 4, "0.5" -> 0.5, "true" -> true, anything else -> the string.
Json parse_scalar(const std::string& text);

/// Reads a YAML (or JSON, a subset of YAML) file into JSON; scalars typed by
/// parse_scalar unless quoted. Malformed -> qtune::Error "FILE:LINE:COL: ...".
Json read_yaml_file(const std::filesystem::path& path);

}  // namespace qtune::cli
