// The first line of a message: what a one-line report (the CLI's error line,
// a failed trial's `error`, a skipped input's reason) shows of an exception's
// what(), whose later lines (LibTorch's backtraces) are for developers.
#pragma once

#include <string>

namespace qtune {

inline std::string first_line(const std::string& message) {
  return message.substr(0, message.find('\n'));
}

}  // namespace qtune
