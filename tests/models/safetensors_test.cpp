#include "models/safetensors.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

std::string le_u64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

/// A file as the format lays it out, from a header text and a data section.
std::string raw_file(const std::string& header, const std::string& data) {
  return le_u64(header.size()) + header + data;
}

bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  if (ca.numel() == 0) return true;  // data_ptr may be null; memcmp must not see it
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

using Reader = SafetensorsFile (*)(const std::filesystem::path&);
// Every malformed case goes through both readers: they share the validation,
// and the mapped one must never touch bytes outside the file.
const std::pair<const char*, Reader> kReaders[] = {{"read", &read_safetensors},
                                                   {"map", &map_safetensors}};

/// Expects both readers to throw qtune::Error whose message contains `fragment`.
void expect_read_error(const std::filesystem::path& p, const std::string& fragment) {
  for (const auto& [reader_name, reader] : kReaders) {
    try {
      reader(p);
      ADD_FAILURE() << reader_name << ": no error for " << p << ", expected one containing '"
                    << fragment << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << reader_name << " message: " << e.what() << "\nexpected to contain: " << fragment;
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos)
          << reader_name << ": message does not name the file: " << e.what();
    }
  }
}

std::map<std::string, at::Tensor> every_dtype(uint64_t seed) {
  at::manual_seed(seed);
  std::map<std::string, at::Tensor> t;
  t["f64"] = at::randn({3, 5}, at::kDouble);
  t["f32"] = at::randn({4, 7}, at::kFloat);
  t["f16"] = at::randn({9}, at::kFloat).to(at::kHalf);
  t["bf16"] = at::randn({2, 3, 2}, at::kFloat).to(at::kBFloat16);
  t["i64"] = at::randint(-(int64_t{1} << 40), int64_t{1} << 40, {6}, at::kLong);
  t["i32"] = at::randint(-(1 << 30), 1 << 30, {2, 8}, at::kInt);
  t["i16"] = at::randint(-30000, 30000, {5}, at::kShort);
  t["i8"] = at::randint(-128, 128, {11}, at::kChar);
  t["u8"] = at::randint(0, 256, {13}, at::kByte);
  t["bool"] = at::randint(0, 2, {3, 3}, at::kByte).to(at::kBool);
  t["scalar"] = at::full({}, 3.5f);
  t["empty"] = at::zeros({0, 4}, at::kFloat);
  return t;
}

TEST(Safetensors, RoundTripIsBitExactForEveryDtype) {
  TempDir dir;
  const auto tensors = every_dtype(7);
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "ünïcode ok"}};
  write_safetensors(dir / "a.safetensors", tensors, meta);
  const SafetensorsFile f = read_safetensors(dir / "a.safetensors");
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(f.tensors.count(name)) << name;
    EXPECT_TRUE(same_bytes(t, f.tensors.at(name))) << name;
  }
  EXPECT_EQ(f.metadata, meta);
  // No temp file left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.exists();
  EXPECT_EQ(files, 1);
}

TEST(Safetensors, MappedReadIsBitExactAndOutlivesItsFile) {
  TempDir dir;
  const auto tensors = every_dtype(9);
  write_safetensors(dir / "m.safetensors", tensors, {{"k", "v"}});
  std::map<std::string, at::Tensor> mapped;
  {
    SafetensorsFile f = map_safetensors(dir / "m.safetensors");
    EXPECT_EQ(f.metadata.at("k"), "v");
    mapped = f.tensors;
  }
  // The tensors keep the mapping alive after the file object and the file are gone.
  std::filesystem::remove(dir / "m.safetensors");
  ASSERT_EQ(mapped.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(mapped.count(name)) << name;
    EXPECT_TRUE(same_bytes(t, mapped.at(name))) << name;
  }
}

/// Resident bytes of this process's mappings of `file` (/proc/self/smaps).
int64_t resident_bytes_of(const std::filesystem::path& file) {
  std::ifstream smaps("/proc/self/smaps");
  const std::string path = std::filesystem::canonical(file).string();
  std::string line;
  bool in_file = false;
  int64_t kb = 0;
  while (std::getline(smaps, line)) {
    if (line.find('-') < line.find(' ') && line.find(' ') != std::string::npos &&
        std::isxdigit(static_cast<unsigned char>(line[0])))
      in_file = line.size() >= path.size() &&
                line.compare(line.size() - path.size(), path.size(), path) == 0;
    else if (in_file && line.rfind("Rss:", 0) == 0)
      kb += std::stoll(line.substr(4));
  }
  return kb * 1024;
}

TEST(Safetensors, ReleasedPagesOfAMappedTensorReadBackUnchanged) {
  TempDir dir;
  const at::Tensor big = at::randn({1024, 1024});  // 4 MiB
  write_safetensors(dir / "r.safetensors", {{"big", big}});
  SafetensorsFile f = map_safetensors(dir / "r.safetensors");
  const at::Tensor& t = f.tensors.at("big");
  EXPECT_TRUE(same_bytes(t, big));  // reads every page
  EXPECT_GE(resident_bytes_of(dir / "r.safetensors"), 4 << 20);
  EXPECT_TRUE(release_mapped_pages(t));
  // At most the two pages at the tensor's ends (shared with the header) stay.
  EXPECT_LE(resident_bytes_of(dir / "r.safetensors"), 2 * 4096);
  EXPECT_TRUE(same_bytes(t, big));
  EXPECT_GE(resident_bytes_of(dir / "r.safetensors"), 4 << 20);
  // Memory that is not a live mapping is never advised away.
  const at::Tensor owned = big.clone();
  EXPECT_FALSE(release_mapped_pages(owned));
  EXPECT_FALSE(release_mapped_pages(at::Tensor()));
  EXPECT_TRUE(same_bytes(owned, big));
}

TEST(Safetensors, WritingIntoAMappedTensorLeavesTheFileAlone) {
  TempDir dir;
  write_safetensors(dir / "w.safetensors", {{"a", at::arange(4, at::kFloat)}});
  const std::string before = read_bytes(dir / "w.safetensors");
  {
    SafetensorsFile f = map_safetensors(dir / "w.safetensors");
    f.tensors.at("a").fill_(7.0f);
    EXPECT_TRUE(at::equal(f.tensors.at("a"), at::full({4}, 7.0f)));
  }
  EXPECT_EQ(read_bytes(dir / "w.safetensors"), before);
  EXPECT_TRUE(
      at::equal(map_safetensors(dir / "w.safetensors").tensors.at("a"), at::arange(4, at::kFloat)));
}

TEST(Safetensors, MappedReadCopiesMisalignedData) {
  TempDir dir;
  // A 1-byte tensor first leaves the F32 one at an odd offset (header padded to 8).
  std::string header = R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("w":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  float v[2] = {1.5f, -3.0f};
  std::string data = "x" + std::string(reinterpret_cast<const char*>(v), sizeof v);
  write_bytes(dir / "u.safetensors", raw_file(header, data));
  const SafetensorsFile f = map_safetensors(dir / "u.safetensors");
  EXPECT_TRUE(at::equal(f.tensors.at("w"), at::tensor({1.5f, -3.0f})));
  EXPECT_EQ(f.tensors.at("b").item<uint8_t>(), 'x');
}

TEST(Safetensors, LayoutFollowsTheFormat) {
  TempDir dir;
  // Non-contiguous input: the writer must store it in logical (row-major) order.
  const at::Tensor b = at::arange(6, at::kFloat).reshape({2, 3}).t();
  const at::Tensor a = at::tensor({1.0f, -2.0f});
  write_safetensors(dir / "x.safetensors", {{"b", b}, {"a", a}});
  const std::string bytes = read_bytes(dir / "x.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u) << "data section must start 8-byte aligned";
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], nlohmann::json::array({2}));
  // Sorted by name: "a" first at offset 0, then "b".
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 8}));
  EXPECT_EQ(header["b"]["shape"], nlohmann::json::array({3, 2}));
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json::array({8, 32}));
  ASSERT_EQ(bytes.size(), 8 + n + 32);
  std::vector<float> data(8);
  std::memcpy(data.data(), bytes.data() + 8 + n, 32);
  EXPECT_EQ(data, (std::vector<float>{1, -2, 0, 3, 1, 4, 2, 5}));
}

TEST(Safetensors, ReadsAHandWrittenFile) {
  TempDir dir;
  // A header as another writer might produce it: unsorted keys, metadata, trailing spaces.
  float v[3] = {0.5f, -1.25f, 8.0f};
  std::string data(reinterpret_cast<const char*>(v), sizeof v);
  write_bytes(dir / "h.safetensors",
              raw_file(R"({"w":{"shape":[3],"data_offsets":[0,12],"dtype":"F32"},)"
                       R"("__metadata__":{"format":"pt"}}   )",
                       data));
  const auto f = read_safetensors(dir / "h.safetensors");
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_TRUE(at::equal(f.tensors.at("w"), at::tensor({0.5f, -1.25f, 8.0f})));
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(Safetensors, WriterRejectsUnsupportedDtype) {
  TempDir dir;
  EXPECT_THROW(write_safetensors(dir / "c.safetensors", {{"c", at::zeros({2}, at::kComplexFloat)}}),
               Error);
  EXPECT_THROW(write_safetensors(dir / "c.safetensors", {{"__metadata__", at::zeros({2})}}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "c.safetensors"));
}

TEST(Safetensors, MissingFile) {
  TempDir dir;
  expect_read_error(dir / "nope.safetensors", "no such file");
}

TEST(Safetensors, EmptyAndTinyFiles) {
  TempDir dir;
  write_bytes(dir / "e.safetensors", "");
  expect_read_error(dir / "e.safetensors", "not a safetensors file");
  write_bytes(dir / "t.safetensors", "abc");
  expect_read_error(dir / "t.safetensors", "not a safetensors file");
}

TEST(Safetensors, HeaderLengthPastEndOfFile) {
  TempDir dir;
  write_bytes(dir / "p.safetensors", le_u64(1000) + "{}");
  expect_read_error(dir / "p.safetensors", "header length 1000 exceeds the file (2 bytes");
  write_bytes(dir / "q.safetensors", le_u64(~uint64_t{0}) + "{}");
  expect_read_error(dir / "q.safetensors", "exceeds the file");
}

TEST(Safetensors, HeaderNotJsonObject) {
  TempDir dir;
  write_bytes(dir / "j.safetensors", raw_file("{\"a\": [1, 2", ""));
  expect_read_error(dir / "j.safetensors", "header is not valid JSON");
  write_bytes(dir / "k.safetensors", raw_file("[1, 2]", ""));
  expect_read_error(dir / "k.safetensors", "header must be a JSON object");
  write_bytes(dir / "l.safetensors", raw_file(R"({"a": 5})", ""));
  expect_read_error(dir / "l.safetensors", "tensor 'a': expected an object");
  write_bytes(dir / "m.safetensors", raw_file(R"({"__metadata__": {"k": 1}})", ""));
  expect_read_error(dir / "m.safetensors", "__metadata__['k'] must be a string");
}

TEST(Safetensors, UnknownDtype) {
  TempDir dir;
  write_bytes(dir / "d.safetensors",
              raw_file(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", "ab"));
  expect_read_error(dir / "d.safetensors", "tensor 'w': unknown dtype 'F8_E4M3'");
}

TEST(Safetensors, ByteCountMismatch) {
  TempDir dir;
  write_bytes(
      dir / "b.safetensors",
      raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  expect_read_error(dir / "b.safetensors", "tensor 'w': data_offsets [0,8] span 8 bytes");
}

TEST(Safetensors, OffsetsOutOfBounds) {
  TempDir dir;
  write_bytes(dir / "model.safetensors",
              raw_file(R"({"fc1.weight":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}})",
                       std::string(64, '\0')));
  expect_read_error(dir / "model.safetensors",
                    "tensor 'fc1.weight': data_offsets [0,100] exceed the data section (64 bytes)");
  write_bytes(
      dir / "r.safetensors",
      raw_file(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[9,4]}})", std::string(16, '\0')));
  expect_read_error(dir / "r.safetensors", "begin > end");
}

TEST(Safetensors, BadShapes) {
  TempDir dir;
  for (const std::string shape : {"[-1]", "[1.5]", "3", "[\"2\"]"}) {
    write_bytes(
        dir / "s.safetensors",
        raw_file(R"({"w":{"dtype":"U8","shape":)" + shape + R"(,"data_offsets":[0,1]}})", "x"));
    expect_read_error(dir / "s.safetensors", "shape must be a list of non-negative integers");
  }
  // A product that overflows 64 bits must not wrap around to a small byte count.
  write_bytes(dir / "o.safetensors",
              raw_file(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],)"
                       R"("data_offsets":[0,0]}})",
                       ""));
  expect_read_error(dir / "o.safetensors", "needs more bytes than the data section");
  write_bytes(dir / "n.safetensors",
              raw_file(R"({"w":{"dtype":"F32","shape":[2]}})", std::string(8, '\0')));
  expect_read_error(dir / "n.safetensors", "missing 'data_offsets'");
}

TEST(Safetensors, OverlappingOffsets) {
  TempDir dir;
  write_bytes(dir / "v.safetensors",
              raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                       std::string(24, '\0')));
  expect_read_error(dir / "v.safetensors", "tensors 'a' [0, 16) and 'b' [8, 24) overlap");
}

TEST(Safetensors, TruncatedData) {
  TempDir dir;
  write_safetensors(dir / "ok.safetensors", every_dtype(3));
  const std::string whole = read_bytes(dir / "ok.safetensors");
  write_bytes(dir / "cut.safetensors", whole.substr(0, whole.size() - 3));
  expect_read_error(dir / "cut.safetensors", "exceed the data section");
}

TEST(Safetensors, EveryPrefixOfAValidFileIsACleanError) {
  TempDir dir;
  write_safetensors(dir / "ok.safetensors",
                    {{"a", at::arange(5, at::kFloat)}, {"b", at::ones({3}, at::kInt)}},
                    {{"k", "v"}});
  const std::string whole = read_bytes(dir / "ok.safetensors");
  for (size_t len = 0; len < whole.size(); ++len) {
    write_bytes(dir / "cut.safetensors", whole.substr(0, len));
    EXPECT_THROW(read_safetensors(dir / "cut.safetensors"), Error)
        << "prefix of " << len << " bytes";
    EXPECT_THROW(map_safetensors(dir / "cut.safetensors"), Error)
        << "mapped, prefix of " << len << " bytes";
  }
}

TEST(Safetensors, CorruptedBytesNeverEscapeAsOtherExceptions) {
  TempDir dir;
  write_safetensors(dir / "ok.safetensors",
                    {{"a", at::arange(5, at::kFloat)}, {"b", at::ones({3}, at::kInt)}});
  const std::string whole = read_bytes(dir / "ok.safetensors");
  const uint64_t seed = 1234;
  std::mt19937_64 rng(seed);
  int errors = 0, loads = 0;
  for (int iter = 0; iter < 500; ++iter) {
    std::string bytes = whole;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    write_bytes(dir / "bad.safetensors", bytes);
    for (const auto& [reader_name, reader] : kReaders) {
      try {
        const SafetensorsFile f = reader(dir / "bad.safetensors");
        // Touch every byte of every tensor: a mapped read past the file would fault here.
        for (const auto& [name, t] : f.tensors) t.clone();
        ++loads;
      } catch (const Error&) {
        ++errors;
      } catch (const std::exception& e) {
        FAIL() << reader_name << ": seed " << seed << " iteration " << iter
               << ": non-qtune exception " << e.what();
      }
    }
  }
  // Both outcomes must occur, or the corruption did not reach the parser.
  EXPECT_GT(errors, 0);
  EXPECT_GT(loads, 0);
}

}  // namespace
}  // namespace qtune
