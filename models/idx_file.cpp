#include "models/idx_file.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>

#include "common/error.h"

namespace qtune {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly `n` bytes or throws; gzread also passes plain (uncompressed)
// files through. `before` bytes of `what` were read by earlier calls (messages count them).
void read_exact(gzFile f, const std::filesystem::path& path, void* dst, int64_t n, const char* what,
                int64_t before = 0, int64_t total = -1) {
  auto* out = static_cast<unsigned char*>(dst);
  int64_t done = 0;
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - done, 1 << 30));
    const int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      throw Error("IDX file " + path.string() + ": cannot read " + what + ": " +
                  (msg ? msg : "gzip error"));
    }
    if (got == 0) {
      throw Error(detail::concat("IDX file ", path.string(), ": truncated while reading ", what,
                                 ": expected ", total < 0 ? n : total, " bytes, got ",
                                 before + done));
    }
    done += got;
  }
}

}  // namespace

IdxArray read_idx_file(const std::filesystem::path& path) {
  GzFile f(gzopen(path.c_str(), "rb"));
  QT_CHECK(f != nullptr, "IDX file ", path.string(), ": cannot open it");
  gzbuffer(f.get(), 1 << 20);

  std::array<unsigned char, 4> magic{};
  read_exact(f.get(), path, magic.data(), 4, "the magic number");
  QT_CHECK(magic[0] == 0 && magic[1] == 0, "IDX file ", path.string(),
           ": bad magic number (expected 0x0000 0x08 ndim, got first bytes ", int(magic[0]), " ",
           int(magic[1]), ")");
  QT_CHECK(magic[2] == 0x08, "IDX file ", path.string(), ": unsupported element type 0x", std::hex,
           int(magic[2]), std::dec, " (expected 0x08, unsigned byte)");
  const int ndim = magic[3];
  QT_CHECK(ndim >= 1 && ndim <= 4, "IDX file ", path.string(), ": expected 1 to 4 dimensions, got ",
           ndim);

  IdxArray out;
  out.dims.resize(ndim);
  // Refuse absurd headers before allocating: a corrupt size must not become a 4 GB allocation.
  constexpr int64_t kMaxBytes = int64_t{1} << 31;
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    std::array<unsigned char, 4> be{};
    read_exact(f.get(), path, be.data(), 4, "the dimensions");
    out.dims[d] = (int64_t{be[0]} << 24) | (int64_t{be[1]} << 16) | (int64_t{be[2]} << 8) | be[3];
    total *= std::max<int64_t>(out.dims[d], 1);
    QT_CHECK(total <= kMaxBytes, "IDX file ", path.string(), ": declared size exceeds ", kMaxBytes,
             " bytes (corrupt header?)");
  }
  for (int64_t d : out.dims) {
    if (d == 0) total = 0;
  }

  // Grown as the data arrives: a header that declares 2 GiB over a few bytes
  // of data must not allocate 2 GiB first.
  constexpr int64_t kChunk = int64_t{1} << 20;
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min(kChunk, total - done);
    out.data.resize(static_cast<size_t>(done + n));
    read_exact(f.get(), path, out.data.data() + done, n, "the data", done, total);
    done += n;
  }
  unsigned char extra = 0;
  const int more = gzread(f.get(), &extra, 1);
  QT_CHECK(more == 0, "IDX file ", path.string(), ": ",
           more < 0 ? "corrupt data after the declared " : "unexpected bytes after the declared ",
           total, " data bytes");
  return out;
}

}  // namespace qtune
