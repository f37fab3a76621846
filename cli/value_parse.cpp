#include "cli/value_parse.h"

#include <cerrno>
#include <cstdlib>

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

}  // namespace qtune::cli
