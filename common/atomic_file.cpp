#include "common/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.h"

namespace qtune {

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<bool(std::FILE*)>& write_body) {
  const std::string file = path.string();
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  QT_CHECK(f != nullptr, file, ": cannot create ", tmp.string(), ": ", std::strerror(errno));
  bool ok = write_body(f);
  ok = ok && std::fflush(f) == 0;
  // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
  ok = ok && ::fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  ok = (std::fclose(f) == 0) && ok;
  std::error_code ec;
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    throw Error(file + ": write failed: " + std::strerror(saved_errno));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error(file + ": cannot rename " + tmp.string() + " into place: " + ec.message());
  }
}

}  // namespace qtune
