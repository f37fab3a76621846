// A layer name as an override / fp32_layers pattern that matches it alone.
#pragma once

#include <regex>
#include <string>

namespace qtune {

// Layer names carry dots, which a regex would read as "any character".
inline std::string exact_layer_pattern(const std::string& name) {
  return std::regex_replace(name, std::regex(R"([.^$|()\\[\]{}*+?])"), R"(\$&)");
}

}  // namespace qtune
