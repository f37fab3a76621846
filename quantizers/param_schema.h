// Typed parameter schemas: each algorithm declares its parameters with
// defaults and allowed values; configs are validated against them so a bad
// value is reported with its field name before anything runs.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace qtune {

struct ParamSpec {
  enum class Type { kInt, kFloat, kBool, kString };
  std::string name;
  Type type = Type::kInt;
  Json default_value;                 ///< as written in a config
  std::optional<double> min, max;     ///< inclusive range for numbers
  std::vector<Json> allowed;          ///< if non-empty, the value must be one of these
  std::string help;
  /// A rule the fields above cannot say (e.g. group_size -1 or >= 1): returns
  /// "" if `value` is fine, else what was expected ("group size must be -1 or >= 1").
  std::function<std::string(const Json& value)> check;
};

struct ParamSchema {
  std::vector<ParamSpec> params;

  const ParamSpec* find(const std::string& name) const;
  /// Fills defaults for missing keys and checks every key and value.
  /// `where` prefixes errors, e.g. "configs/x.yaml: search_space[0].params".
  /// Unknown key, wrong type, out of range -> qtune::Error naming the field,
  /// what was expected and what was got.
  Json validate(const Json& params, const std::string& where) const;
  /// Checks only the keys present and fills no defaults (per-layer overrides,
  /// which are merged over already complete parameters).
  Json validate_subset(const Json& params, const std::string& where) const;
};

}  // namespace qtune
