// YAML text -> a checked yaml-cpp tree, and the typing of its scalars: the
// syntax layer of the tuning config (tuner/tuning_config.cpp reads the keys).
// No ATen, so the fuzz targets can link it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "common/json.h"

namespace qtune {

/// Parses `text`. Malformed YAML -> "SOURCE:LINE:COL: malformed YAML: ...";
/// a key given twice in one mapping (yaml-cpp would keep the first silently)
/// -> "SOURCE:LINE:COL: KEY: given twice (first at line L)"; nesting deeper than
/// 64 levels or more than 100000 nodes (aliases expand) -> an error too.
/// Lines and columns count from 1, as editors do.
YAML::Node load_yaml_document(const std::string& text, const std::string& source);

/// A scalar's JSON value: YAML scalars are untyped text; a quoted one stays a
/// string (so bits: "8" is reported as a string where an integer was
/// expected), integers that fit int64 become integers, decimal numbers
/// doubles, true/false booleans, null/~/empty null.
Json yaml_scalar(const YAML::Node& n);

}  // namespace qtune
