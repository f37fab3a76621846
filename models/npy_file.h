// NumPy .npy files (format versions 1.0, 2.0 and 3.0, as numpy.save writes
// them), read into plain bytes: the parser, with no ATen so the fuzz targets
// can link it. models/image_dataset.h makes tensors of it. Private to models/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qtune {

struct NpyArray {
  /// The element type as numpy names it without the byte order: "u1", "i8",
  /// "f4", ... (kind letter and size in bytes).
  std::string dtype;
  int itemsize = 1;
  std::vector<int64_t> dims;  ///< the shape, outermost first; empty for a scalar
  std::vector<uint8_t> data;  ///< product(dims) * itemsize bytes, C order, little-endian
};

/// Parses a whole .npy file held in `bytes`; `where` names it in errors.
/// Accepts little-endian (or byte-order-free) integer types of 1, 2, 4 and 8
/// bytes and float32/float64, in C order, with at most 4 dimensions and
/// 2^31 bytes of data exactly filling the rest of the file. Anything else
/// (bad magic, an unknown version, a header that is not numpy's dict, a
/// big-endian or Fortran-ordered array, an object array, truncated or
/// trailing data) -> qtune::Error naming `where`.
NpyArray parse_npy(const std::string& bytes, const std::string& where);

/// parse_npy of the file's bytes; an unreadable file -> qtune::Error naming it.
NpyArray read_npy_file(const std::filesystem::path& path);

}  // namespace qtune
