// 64-bit FNV-1a, the one content hash of qtune: config hashes, the weight
// and data hashes of a run's signature, the checksum of the trained-weight
// cache. It detects change, not tampering (it is not cryptographic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qtune {

class Fnv1a64 {
 public:
  void update(const void* data, size_t n);
  uint64_t value() const { return h_; }
  std::string hex() const;  ///< 16 lower-case hex digits

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;  // the FNV-1a 64-bit offset basis
};

/// The hash of the files' bytes in order. A file that cannot be read ->
/// qtune::Error naming it.
std::string files_hash(const std::vector<std::filesystem::path>& files);

}  // namespace qtune
