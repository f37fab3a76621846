// A plain RFC 4180 reader for tests that read qtune's CSV output back,
// independent of the writer (tuner/trials_csv.h); it flags what the format
// forbids through GoogleTest expectations.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qtune {

// RFC 4180, section 2: records end in CRLF; a quoted field may hold commas,
// CRLF and doubled quotes.
inline std::vector<std::vector<std::string>> read_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    auto& field = rows.back().back();
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (c == '"') {
      EXPECT_TRUE(field.empty()) << "a quote inside an unquoted field at byte " << i;
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\r') {
      EXPECT_EQ(text.at(i + 1), '\n') << "a bare CR at byte " << i;
      ++i;
      rows.emplace_back(1);
    } else {
      EXPECT_NE(c, '\n') << "a bare LF at byte " << i;
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_EQ(rows.back(), std::vector<std::string>(1)) << "the last record must end in CRLF";
  rows.pop_back();
  return rows;
}

}  // namespace qtune
