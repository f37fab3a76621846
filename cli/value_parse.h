// Turning user-written text (--set key=value) into JSON values.
#pragma once

#include <string>

#include "common/json.h"

namespace qtune::cli {

/// "4" -> 4, "0.5" -> 0.5, "true" -> true, anything else -> the string.
Json parse_scalar(const std::string& text);

}  // namespace qtune::cli
