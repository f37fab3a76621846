// Reading a user's text files for language-model calibration and evaluation,
// with every fault reported as a one-line qtune::Error that names the file
// (and the line, for JSON Lines).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace qtune {

/// The whole file. Unreadable, or nothing but whitespace -> qtune::Error naming it.
std::string read_text_file(const std::filesystem::path& path);

/// Documents of a plain text file: paragraphs separated by blank lines (lines
/// of only whitespace), or each non-blank line when `one_per_line`. A
/// document keeps its inner line breaks; CR LF reads as LF. A file without
/// any document is an error.
std::vector<std::string> read_text_documents(const std::filesystem::path& path, bool one_per_line);

/// Documents of a JSON Lines file: the string `field` of each object, one per
/// non-blank line. Bad JSON, a line that is not an object, a missing or
/// non-string field -> qtune::Error "FILE:LINE: ...". No line -> error.
std::vector<std::string> read_jsonl_documents(const std::filesystem::path& path,
                                              const std::string& field);

}  // namespace qtune
