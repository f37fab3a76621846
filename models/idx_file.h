// IDX files (the MNIST / Fashion-MNIST format), gzip'd or plain, read into
// plain bytes: the parser, with no ATen so the fuzz targets can link it.
// models/idx_reader.h makes tensors of it. Private to models/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace qtune {

struct IdxArray {
  std::vector<int64_t> dims;  ///< the file's dimensions, outermost first
  std::vector<uint8_t> data;  ///< product(dims) bytes, row-major
};

/// An unsigned-byte IDX array. Validates the magic (0x00 0x00 0x08 ndim),
/// 1 <= ndim <= 4, the declared size (at most 2^31 bytes) against the data and
/// that nothing follows it; any problem, including a truncated or corrupt
/// gzip stream, is a qtune::Error naming the file.
IdxArray read_idx_file(const std::filesystem::path& path);

}  // namespace qtune
