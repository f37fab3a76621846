#include "tests/storage/gguf_reader.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace qtune::testing {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("gguf reader: " + what);
}

struct Cursor {
  const std::vector<uint8_t>& b;
  uint64_t pos = 0;

  template <typename T>
  T get() {
    if (pos + sizeof(T) > b.size()) fail("truncated at byte " + std::to_string(pos));
    T v;
    std::memcpy(&v, b.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t n = get<uint64_t>();
    if (n > b.size() - pos) fail("string of " + std::to_string(n) + " bytes past the end");
    std::string s(reinterpret_cast<const char*>(b.data() + pos), n);
    pos += n;
    return s;
  }
};

bool is_int_type(uint32_t t) { return t <= 5 || t == 7 || t == 10 || t == 11; }

int64_t read_int(Cursor& c, uint32_t t) {
  switch (t) {
    case 0:
      return c.get<uint8_t>();
    case 1:
      return c.get<int8_t>();
    case 2:
      return c.get<uint16_t>();
    case 3:
      return c.get<int16_t>();
    case 4:
      return c.get<uint32_t>();
    case 5:
      return c.get<int32_t>();
    case 7: {
      const uint8_t v = c.get<uint8_t>();
      if (v > 1) fail("bool value " + std::to_string(v));
      return v;
    }
    case 10:
      return static_cast<int64_t>(c.get<uint64_t>());
    case 11:
      return c.get<int64_t>();
  }
  fail("not an integer type " + std::to_string(t));
}

double read_float(Cursor& c, uint32_t t) {
  if (t == 6) return c.get<float>();
  if (t == 12) return c.get<double>();
  fail("not a float type " + std::to_string(t));
}

float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

/// (block elements, block bytes) of a ggml type.
std::pair<int64_t, int64_t> block_of(uint32_t type) {
  switch (type) {
    case 0:
      return {1, 4};
    case 1:
      return {1, 2};
    case 30:
      return {1, 2};
    case 2:
      return {32, 18};
    case 3:
      return {32, 20};
    case 8:
      return {32, 34};
  }
  fail("ggml type " + std::to_string(type) + " not decoded by this reader");
}

}  // namespace

float half_to_float(uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  double v;
  if (exp == 0)
    v = std::ldexp(static_cast<double>(mant), -24);  // subnormal: mant * 2^-14 / 1024
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(1.0 + mant / 1024.0, exp - 15);
  return static_cast<float>(sign ? -v : v);
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

const GgufKv& GgufFile::at(const std::string& key) const {
  auto it = kv.find(key);
  if (it == kv.end()) fail("no metadata key '" + key + "'");
  return it->second;
}

const GgufTensorInfo* GgufFile::find(const std::string& name) const {
  for (const GgufTensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<float> GgufFile::decode(const GgufTensorInfo& t) const {
  const auto [block, block_bytes] = block_of(t.type);
  const int64_t n = t.numel();
  const uint8_t* p = bytes.data() + data_start + t.offset;
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t b = 0; b < n / block; ++b) {
    const uint8_t* q = p + b * block_bytes;
    float* y = out.data() + b * block;
    switch (t.type) {
      case 0:
        std::memcpy(y, q, 4);
        break;
      case 1:
        y[0] = half_to_float(u16(q));
        break;
      case 30:
        y[0] = bf16_to_float(u16(q));
        break;
      case 8: {  // Q8_0: d * q
        const float d = half_to_float(u16(q));
        for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(q[2 + j]));
        break;
      }
      case 2: {  // Q4_0: d * (nibble - 8); low nibbles = elements 0..15, high = 16..31
        const float d = half_to_float(u16(q));
        for (int j = 0; j < 16; ++j) {
          y[j] = d * static_cast<float>((q[2 + j] & 0x0F) - 8);
          y[j + 16] = d * static_cast<float>((q[2 + j] >> 4) - 8);
        }
        break;
      }
      case 3: {  // Q4_1: d * nibble + m
        const float d = half_to_float(u16(q)), m = half_to_float(u16(q + 2));
        for (int j = 0; j < 16; ++j) {
          y[j] = d * static_cast<float>(q[4 + j] & 0x0F) + m;
          y[j + 16] = d * static_cast<float>(q[4 + j] >> 4) + m;
        }
        break;
      }
    }
  }
  return out;
}

GgufFile parse_gguf(std::vector<uint8_t> bytes) {
  GgufFile f;
  f.bytes = std::move(bytes);
  Cursor c{f.bytes};
  if (c.get<uint32_t>() != 0x46554747u) fail("magic is not GGUF");
  f.version = c.get<uint32_t>();
  if (f.version != 3) fail("version " + std::to_string(f.version));
  const uint64_t n_tensors = c.get<uint64_t>(), n_kv = c.get<uint64_t>();
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = c.str();
    if (f.kv.count(key)) fail("duplicate key " + key);
    GgufKv v;
    v.type = c.get<uint32_t>();
    if (v.type == 8) {
      v.s = c.str();
    } else if (v.type == 9) {
      v.elem_type = c.get<uint32_t>();
      const uint64_t n = c.get<uint64_t>();
      if (n > f.bytes.size()) fail("array of " + std::to_string(n) + " for key " + key);
      for (uint64_t k = 0; k < n; ++k) {
        if (v.elem_type == 8)
          v.strings.push_back(c.str());
        else if (is_int_type(v.elem_type))
          v.ints.push_back(read_int(c, v.elem_type));
        else
          v.floats.push_back(read_float(c, v.elem_type));
      }
    } else if (is_int_type(v.type)) {
      v.i = read_int(c, v.type);
    } else {
      v.f = read_float(c, v.type);
    }
    f.keys.push_back(key);
    f.kv[key] = std::move(v);
  }
  if (f.kv.count("general.alignment")) {
    const GgufKv& a = f.kv["general.alignment"];
    if (a.type != 4) fail("general.alignment must be u32");
    f.alignment = static_cast<uint64_t>(a.i);
    if (f.alignment == 0 || (f.alignment & (f.alignment - 1))) fail("alignment not a power of 2");
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.str();
    const uint32_t n_dims = c.get<uint32_t>();
    if (n_dims < 1 || n_dims > 4) fail(t.name + ": n_dims " + std::to_string(n_dims));
    for (uint32_t d = 0; d < n_dims; ++d) t.ne.push_back(static_cast<int64_t>(c.get<uint64_t>()));
    t.type = c.get<uint32_t>();
    t.offset = c.get<uint64_t>();
    if (t.offset % f.alignment) fail(t.name + ": offset not aligned");
    f.tensors.push_back(t);
  }
  f.data_start = (c.pos + f.alignment - 1) / f.alignment * f.alignment;
  for (uint64_t k = c.pos; k < f.data_start && k < f.bytes.size(); ++k)
    if (f.bytes[k] != 0) fail("non-zero header padding");
  // Tensors lie inside the file, in order, without overlap.
  uint64_t end = 0;
  for (const GgufTensorInfo& t : f.tensors) {
    const auto [block, block_bytes] = block_of(t.type);
    if (t.ne[0] % block) fail(t.name + ": ne[0] not a multiple of the block");
    const uint64_t size = static_cast<uint64_t>(t.numel() / block * block_bytes);
    if (t.offset < end) fail(t.name + ": overlaps the previous tensor");
    end = t.offset + size;
    if (f.data_start + end > f.bytes.size()) fail(t.name + ": data past the end of the file");
  }
  return f;
}

GgufFile read_gguf(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in.good()) fail("cannot read " + file.string());
  return parse_gguf(std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {}));
}

}  // namespace qtune::testing
