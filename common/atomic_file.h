#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>

namespace qtune {

/// Writes `path` so that no reader and no crash ever sees it half written:
/// `write_body` fills a temporary file beside it (returning false when a
/// write failed), which is flushed, fsynced and renamed into place. On any
/// failure the temporary file is removed and an Error names `path`.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<bool(std::FILE*)>& write_body);

}  // namespace qtune
