// Errors, two channels chosen by who is at fault (STYLE.md "Errors"):
//  - qtune::Error / QT_CHECK: bad user input (a config, a file, a flag). The
//    message says what and where, expected vs got; the CLI prints it on one
//    line and exits 1 (UsageError: exit 2).
//  - QT_ASSERT: a broken internal invariant, a bug in qtune.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace qtune {

/// A problem with what the user gave us. Exit status 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// A wrong command line (unknown flag, missing argument). Exit status 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
[[noreturn]] void internal_assert_fail(const char* cond, const char* file, int line,
                                       const std::string& msg);
}  // namespace detail

}  // namespace qtune

/// Throws qtune::Error with the concatenated message when cond is false.
#define QT_CHECK(cond, ...)                                     \
  do {                                                          \
    if (!(cond)) throw ::qtune::Error(::qtune::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Aborts with file:line when an internal invariant does not hold.
#define QT_ASSERT(cond, ...)                                                        \
  do {                                                                              \
    if (!(cond))                                                                    \
      ::qtune::detail::internal_assert_fail(#cond, __FILE__, __LINE__,              \
                                            ::qtune::detail::concat("", ##__VA_ARGS__)); \
  } while (0)
