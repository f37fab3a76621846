// The safetensors format (https://github.com/huggingface/safetensors):
//   8 bytes little-endian u64 N | N bytes JSON header | data
// header: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//          "__metadata__": {"k": "v"}}; offsets are relative to the data start.
// The reader validates everything before touching data: header length within
// the file, JSON well-formed, dtype known, byte count = numel * dtype size,
// offsets inside the data and non-overlapping. Any violation is a qtune::Error
// naming the file and the tensor, never a crash or an out-of-bounds read.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>

namespace qtune {

struct SafetensorsFile {
  std::map<std::string, at::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

/// Writes tensors (F32, F16, BF16, I64, I32, I16, I8, U8, BOOL) atomically
/// (temp file + rename).
void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// Reads and validates a whole file; tensors are owned copies.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

/// Validates the header exactly as read_safetensors does, then memory-maps the
/// file: tensors are views over the mapping, which they keep alive, so their
/// pages are read from disk only when used. The mapping is private (copy on
/// write): writing into a tensor never changes the file. A tensor whose data is
/// not aligned for its dtype (another writer's header padding) is copied.
SafetensorsFile map_safetensors(const std::filesystem::path& path);

/// When `t` is a view of a map_safetensors mapping that is still alive, drops
/// this process's resident pages wholly inside it (madvise MADV_DONTNEED) and
/// returns true; the file's pages stay in the page cache and fault back in,
/// unchanged, if read again. Anything else is left alone (false): releasing
/// anonymous memory would zero it. For weights a quantized kernel replaced.
bool release_mapped_pages(const at::Tensor& t);

}  // namespace qtune
