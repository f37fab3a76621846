// The KJV text from bible-kjv's `bible` program.
#include "models/text/bible_corpus.h"

#include <sys/wait.h>

#include <cctype>
#include <cstdio>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace qtune {
namespace {

// Length of the "Ge1:1 " / "1Sm3:4 " reference at the start of a line, or 0.
size_t reference_length(const std::string& line) {
  size_t i = 0;
  if (i < line.size() && line[i] >= '1' && line[i] <= '3') ++i;
  size_t letters = i;
  while (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
  if (i == letters) return 0;
  auto digits = [&] {
    size_t b = i;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    return i > b;
  };
  if (!digits() || i >= line.size() || line[i] != ':') return 0;
  ++i;
  if (!digits()) return 0;
  if (i < line.size() && line[i] != ' ' && line[i] != '\t') return 0;
  return i;
}

std::string run_bible() {
  // stderr is dropped: a missing program shows as the shell's exit status 127.
  FILE* pipe = ::popen("bible -f \"Gen1:1-Rev22:21\" 2>/dev/null", "r");
  QT_CHECK(pipe != nullptr, "bible corpus: cannot start `bible` (package bible-kjv)");
  std::string out;
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, got);
  int status = ::pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  QT_CHECK(code != 127,
           "bible corpus: the `bible` program is not installed; install the Debian "
           "package bible-kjv (scripts/setup.sh does)");
  QT_CHECK(code == 0 && !out.empty(), "bible corpus: `bible -f \"Gen1:1-Rev22:21\"` failed (exit ",
           code, ", ", out.size(), " bytes of output); is the bible-kjv package complete?");
  return out;
}

}  // namespace

std::string clean_bible_output(const std::string& raw) {
  std::string out;
  out.reserve(raw.size());
  std::istringstream in(raw);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    bool blank = true;
    for (char c : line) blank = blank && std::isspace(static_cast<unsigned char>(c));
    if (blank) continue;
    size_t ref = reference_length(line);
    QT_CHECK(ref > 0, "bible corpus: line ", lineno, " has no verse reference: '",
             line.substr(0, 60), "'");
    std::string verse;
    bool space = false;
    for (size_t i = ref; i < line.size(); ++i) {
      if (std::isspace(static_cast<unsigned char>(line[i]))) {
        space = true;
      } else {
        if (space && !verse.empty()) verse += ' ';
        space = false;
        verse += line[i];
      }
    }
    if (verse.empty()) continue;
    out += verse;
    out += '\n';
  }
  return out;
}

const std::string& bible_text() {
  // A function-local static: thread-safe, and retried if the first run throws.
  static const std::string text = clean_bible_output(run_bible());
  return text;
}

TextSplits split_text(const std::string& text, int64_t lines_per_chunk) {
  QT_CHECK(lines_per_chunk >= 1, "split_text: lines_per_chunk must be >= 1, got ", lines_per_chunk);
  TextSplits s;
  int64_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    end = end == std::string::npos ? text.size() : end + 1;
    switch ((line / lines_per_chunk) % 20) {
      case 18:
        s.calibration.append(text, pos, end - pos);
        break;
      case 19:
        s.heldout.append(text, pos, end - pos);
        break;
      default:
        s.train.append(text, pos, end - pos);
    }
    ++line;
    pos = end;
  }
  return s;
}

const TextSplits& bible_splits() {
  static const TextSplits splits = split_text(bible_text());
  return splits;
}

}  // namespace qtune
