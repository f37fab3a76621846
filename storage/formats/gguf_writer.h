// The one GGUF (v3) container writer: every GGUF file qtune writes goes
// through it. The file, all little-endian:
//
//   "GGUF" | version u32 = 3 | tensor count u64 | metadata count u64
//   metadata:    key (u64 length + bytes) | value type u32 | value
//                (arrays: element type u32 | count u64 | elements)
//   tensor info: name | n_dims u32 | ne[0..n_dims) u64 | ggml type u32 | offset u64
//   padding to general.alignment (32), then the data section: each tensor's
//   bytes at its offset (relative to the section start, a multiple of 32).
//
// ne[0] is the innermost (contiguous) dimension: a PyTorch [rows, cols]
// matrix is ne = {cols, rows}. Tensor data is given already encoded in its
// ggml type (gguf_export.cpp makes the blocks), so this header needs no ATen.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qtune {

/// The metadata value types of GGUF (gguf_type in ggml's gguf.h).
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

/// The ggml tensor types qtune writes (ggml_type numbering).
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 8,
  kBF16 = 30,
};

/// Elements per block and bytes per block of a ggml type
/// (Q4_0: 32 values in fp16 d + 16 bytes; Q4_1: fp16 d, m + 16 bytes; Q8_0: fp16 d + 32 int8).
int64_t ggml_block_size(GgmlType t);
int64_t ggml_type_size(GgmlType t);
const char* ggml_type_name(GgmlType t);

/// The alignment of the data section and of every tensor in it.
inline constexpr uint64_t kGgufAlignment = 32;

class GgufWriter {
 public:
  void add_string(const std::string& key, const std::string& value);
  void add_uint32(const std::string& key, uint32_t value);
  void add_int32(const std::string& key, int32_t value);
  void add_float32(const std::string& key, float value);
  void add_bool(const std::string& key, bool value);
  void add_string_array(const std::string& key, const std::vector<std::string>& values);
  void add_int32_array(const std::string& key, const std::vector<int32_t>& values);
  void add_float32_array(const std::string& key, const std::vector<float>& values);

  /// A tensor of ggml type `type` and dims `ne` (ne[0] innermost), `data`
  /// already encoded in that type. A duplicate name, an ne[0] that is not a
  /// multiple of the type's block or a data size that does not match is a
  /// qtune::Error naming the tensor.
  void add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type,
                  std::vector<uint8_t> data);

  /// Writes the file: to a temporary file beside `path`, then renamed into
  /// place, so a crash never leaves a half-written file under the name.
  void write(const std::filesystem::path& path) const;

  /// The whole file as bytes (what write() puts on disk).
  std::vector<uint8_t> bytes() const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    std::vector<uint8_t> data;
  };
  void begin_kv(const std::string& key, GgufValueType type);
  /// Everything before the data section, padded to the alignment.
  std::vector<uint8_t> header() const;

  std::vector<uint8_t> kv_;  ///< the encoded metadata entries, in order added
  uint64_t kv_count_ = 0;
  std::vector<std::string> keys_;
  std::vector<Tensor> tensors_;
};

}  // namespace qtune
