// Shared by the libFuzzer targets (fuzz/*_fuzz.cpp): what counts as a bug.
// A parser given any bytes must either accept them or throw qtune::Error (the
// one-line message the CLI prints); a crash, a sanitizer report, a hang or any
// other exception (nlohmann's type_error, std::out_of_range, ...) is a bug,
// because the user would see an unclear error or none.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"

namespace qtune::fuzz {

template <typename Fn>
void expect_only_qtune_errors(Fn&& fn) {
  try {
    fn();
  } catch (const qtune::Error&) {
    // The documented outcome for bad input.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: exception other than qtune::Error escaped: %s\n", e.what());
    std::abort();
  }
}

/// A property that must hold for accepted input; abort names it.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz: property violated: %s\n", what);
    std::abort();
  }
}

/// A scratch directory of this process (the path-based readers need files).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("qtune-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write_scratch(const std::string& name, const uint8_t* data,
                                           size_t size) {
  const std::filesystem::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p;
}

}  // namespace qtune::fuzz
