#include "cli/value_parse.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "common/error.h"

namespace qtune::cli {

Json parse_scalar(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  if (text.empty()) return text;
  char* end = nullptr;
  errno = 0;
  long long as_int = std::strtoll(text.c_str(), &end, 10);
  // Out of int64 range stays text, so the parameter schema rejects it by name.
  if (*end == '\0') return errno == ERANGE ? Json(text) : Json(static_cast<int64_t>(as_int));
  double as_double = std::strtod(text.c_str(), &end);
  if (*end == '\0') return as_double;
  return text;
}

namespace {

Json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      // A quoted scalar stays a string: "4" in quotes is a name, not a number.
      return node.Tag() == "!" ? Json(node.Scalar()) : parse_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& item : node) out.push_back(to_json(item));
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = to_json(kv.second);
      return out;
    }
  }
  return nullptr;
}

}  // namespace

Json read_yaml_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  QT_CHECK(in.good(), path.string(), ": cannot open file");
  try {
    return to_json(YAML::Load(in));
  } catch (const YAML::Exception& e) {
    throw Error(path.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": malformed YAML: " + e.msg);
  }
}

}  // namespace qtune::cli
