#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace qtune::detail {

void internal_assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "qtune: internal error: %s:%d: assertion `%s` failed%s%s\n", file, line,
               cond, msg.empty() ? "" : ": ", msg.c_str());
  std::abort();
}

}  // namespace qtune::detail
