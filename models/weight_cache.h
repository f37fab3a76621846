// The cache file of a trained built-in model. Private to models/; the storage
// layer (safetensors, artifacts) sits above models/ and cannot be used here.
//
// Layout, little-endian:
//   "QTWCACHE" | u32 version=1 | u32 tag_len | tag bytes (the training recipe)
//   | u64 count | count x { u32 name_len | name | u32 ndim | i64 dims[ndim] | f32 data[numel] }
//   | u64 FNV-1a 64 of every byte before it
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace qtune {

struct WeightCache {
  std::string tag;  ///< identifies how the weights were made; a different tag means stale
  std::map<std::string, at::Tensor> tensors;  ///< float32, contiguous
};

/// Writes atomically: a unique temporary file in the same folder, then rename,
/// so that concurrent readers (other MPI ranks) never see a partial file.
void write_weight_cache(const std::filesystem::path& path, const WeightCache& cache);

/// Reads and validates the file (magic, version, bounds, checksum); any
/// problem is a qtune::Error naming the file.
WeightCache read_weight_cache(const std::filesystem::path& path);

}  // namespace qtune
