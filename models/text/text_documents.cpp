#include "models/text/text_documents.h"

#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/json.h"

namespace qtune {
namespace {

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string::npos; }

std::string slurp(const std::filesystem::path& path) {
  std::error_code ec;
  QT_CHECK(!std::filesystem::is_directory(path, ec), path.string(),
           ": is a directory, expected a text file");
  std::ifstream in(path, std::ios::binary);
  QT_CHECK(in, path.string(), ": cannot read the data file");
  std::ostringstream text;
  text << in.rdbuf();
  QT_CHECK(!in.bad(), path.string(), ": cannot read the data file");
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

std::string read_text_file(const std::filesystem::path& path) {
  std::string text = slurp(path);
  QT_CHECK(!blank(text), path.string(), ": empty (no text)");
  return text;
}

std::vector<std::string> read_text_documents(const std::filesystem::path& path, bool one_per_line) {
  const std::string text = read_text_file(path);
  std::vector<std::string> docs;
  std::string current;
  for (const std::string& line : lines_of(text)) {
    if (blank(line)) {
      if (!current.empty()) docs.push_back(std::move(current));
      current.clear();
    } else if (one_per_line) {
      docs.push_back(line);
    } else {
      current += (current.empty() ? "" : "\n") + line;
    }
  }
  if (!current.empty()) docs.push_back(std::move(current));
  QT_ASSERT(!docs.empty(), path.string(), ": a non-blank file gave no document");
  return docs;
}

std::vector<std::string> read_jsonl_documents(const std::filesystem::path& path,
                                              const std::string& field) {
  const std::string text = slurp(path);
  std::vector<std::string> docs;
  int64_t number = 0;
  for (const std::string& line : lines_of(text)) {
    ++number;
    if (blank(line)) continue;
    const Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    QT_CHECK(!j.is_discarded(), path.string(), ":", number, ": not valid JSON");
    QT_CHECK(j.is_object(), path.string(), ":", number, ": expected a JSON object, got ",
             j.type_name());
    QT_CHECK(j.contains(field), path.string(), ":", number, ": no field \"", field, "\"");
    QT_CHECK(j[field].is_string(), path.string(), ":", number, ": field \"", field,
             "\" must be a string, got ", j[field].type_name());
    docs.push_back(j[field].get<std::string>());
  }
  QT_CHECK(!docs.empty(), path.string(), ": empty (no JSON line)");
  return docs;
}

}  // namespace qtune
