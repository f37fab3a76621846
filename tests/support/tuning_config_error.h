// The one-line error a tuning YAML is refused with, parsed as file "t.yaml".
#pragma once

#include <string>

#include "common/error.h"
#include "tuner/tuning_config.h"

namespace qtune::testing {

/// What parse_tuning_config(yaml, "t.yaml") throws, or "<no error>".
inline std::string tuning_config_error(const std::string& yaml) {
  try {
    parse_tuning_config(yaml, "t.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace qtune::testing
