#include "tuner/yaml_document.h"

#include <map>
#include <regex>

#include "common/error.h"

namespace qtune {

namespace {

constexpr int kMaxDepth = 64;
constexpr int64_t kMaxNodes = 100000;

std::string position(const std::string& source, const YAML::Mark& m) {
  // yaml-cpp's marks are 0-based; editors count from 1.
  return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// The bounds keep an alias-expanded or deeply nested file from exhausting the
// stack or the time of the checks that walk the tree after it.
void check_tree(const YAML::Node& n, const std::string& source, int depth, int64_t& nodes) {
  if (++nodes > kMaxNodes)
    throw Error(position(source, n.Mark()) + ": more than " + std::to_string(kMaxNodes) +
                " YAML nodes (aliases expanding?); a tuning config is far smaller");
  if (depth > kMaxDepth)
    throw Error(position(source, n.Mark()) + ": nested deeper than " + std::to_string(kMaxDepth) +
                " levels");
  if (n.IsSequence()) {
    for (const auto& child : n) check_tree(child, source, depth + 1, nodes);
  } else if (n.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : n) {
      if (kv.first.IsScalar()) {
        const auto [it, fresh] = seen.emplace(kv.first.Scalar(), kv.first.Mark());
        if (!fresh)
          throw Error(position(source, kv.first.Mark()) + ": " + kv.first.Scalar() +
                      ": given twice (first at line " + std::to_string(it->second.line + 1) + ")");
      }
      check_tree(kv.first, source, depth + 1, nodes);
      check_tree(kv.second, source, depth + 1, nodes);
    }
  }
}

}  // namespace

YAML::Node load_yaml_document(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(position(source, e.mark) + ": malformed YAML: " + e.msg);
  }
  int64_t nodes = 0;
  check_tree(root, source, 0, nodes);
  return root;
}

Json yaml_scalar(const YAML::Node& n) {
  if (n.IsNull()) return nullptr;
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;
  static const std::regex int_re("[-+]?[0-9]+");
  static const std::regex float_re("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?");
  if (std::regex_match(s, int_re)) {
    try {
      return static_cast<int64_t>(std::stoll(s));
    } catch (const std::out_of_range&) {
      return s;
    }
  }
  if (std::regex_match(s, float_re)) {
    try {
      return std::stod(s);
    } catch (const std::out_of_range&) {
      return s;  // 1e999: reported as a string where a number was expected
    }
  }
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "~" || s == "Null" || s == "NULL") return nullptr;
  return s;
}

}  // namespace qtune
