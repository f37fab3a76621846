#include "models/idx_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <vector>

#include "common/error.h"
#include "tests/support/temp_dir.h"

namespace qtune {
namespace {

using Bytes = std::vector<unsigned char>;

Bytes idx_header(unsigned char type, std::vector<uint32_t> dims) {
  Bytes b{0, 0, type, static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims) {
    b.push_back(d >> 24);
    b.push_back((d >> 16) & 0xff);
    b.push_back((d >> 8) & 0xff);
    b.push_back(d & 0xff);
  }
  return b;
}

void write_gz(const std::filesystem::path& p, const Bytes& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), bytes.size()), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

Bytes read_raw(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_raw(const std::filesystem::path& p, const Bytes& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Expects a qtune::Error whose message names `file` and contains `fragment`.
void expect_error(const std::function<void()>& f, const std::filesystem::path& file,
                  const std::string& fragment) {
  try {
    f();
    FAIL() << "expected qtune::Error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

// 2 images of 2x3, pixel i = 10*i + 1.
Bytes small_images() {
  Bytes b = idx_header(0x08, {2, 2, 3});
  for (int i = 0; i < 12; ++i) b.push_back(10 * i + 1);
  return b;
}

TEST(IdxReader, ReadsGzippedImagesAndLabels) {
  testing::TempDir dir;
  write_gz(dir.path() / "img.gz", small_images());
  const at::Tensor img = read_idx_images(dir.path() / "img.gz", 2, 3);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(img.scalar_type(), at::kByte);
  EXPECT_EQ(img[0][0][0].item<int>(), 1);
  EXPECT_EQ(img[0][1][2].item<int>(), 51);   // element 5
  EXPECT_EQ(img[1][1][2].item<int>(), 111);  // element 11

  Bytes labels = idx_header(0x08, {4});
  for (unsigned char l : {3, 0, 9, 7}) labels.push_back(l);
  write_gz(dir.path() / "lab.gz", labels);
  const at::Tensor lab = read_idx_labels(dir.path() / "lab.gz", 10);
  EXPECT_EQ(lab.scalar_type(), at::kLong);
  EXPECT_TRUE(lab.equal(at::tensor({3, 0, 9, 7}, at::kLong)));
}

TEST(IdxReader, ReadsUncompressedFile) {
  testing::TempDir dir;
  write_raw(dir.path() / "img", small_images());
  EXPECT_EQ(read_idx_images(dir.path() / "img", 2, 3).sum().item<int64_t>(), 12 + 10 * 66);
}

TEST(IdxReader, TruncatedDataIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  Bytes b = small_images();
  b.resize(b.size() - 5);  // a well-formed gzip stream holding too few data bytes
  const auto p = dir.path() / "short.gz";
  write_gz(p, b);
  expect_error([&] { read_idx_ubyte(p); }, p, "truncated");
}

TEST(IdxReader, TruncatedGzipStreamIsAnError) {
  testing::TempDir dir;
  Bytes big = idx_header(0x08, {1000, 28, 28});
  for (uint32_t i = 0; i < 1000 * 28 * 28; ++i) big.push_back((i * 7919u) % 251u);
  const auto p = dir.path() / "cut.gz";
  write_gz(p, big);
  Bytes gz = read_raw(p);
  gz.resize(gz.size() / 2);
  write_raw(p, gz);
  EXPECT_THROW(read_idx_ubyte(p), Error);
  expect_error([&] { read_idx_ubyte(p); }, p, "");
}

TEST(IdxReader, BadMagicIsAnError) {
  testing::TempDir dir;
  Bytes b = small_images();
  b[0] = 0x1f;
  const auto p = dir.path() / "magic.gz";
  write_gz(p, b);
  expect_error([&] { read_idx_ubyte(p); }, p, "bad magic");

  Bytes f32 = small_images();
  f32[2] = 0x0d;  // float elements: valid IDX, not supported here
  write_gz(p, f32);
  expect_error([&] { read_idx_ubyte(p); }, p, "element type");

  Bytes rank0 = small_images();
  rank0[3] = 0;
  write_gz(p, rank0);
  expect_error([&] { read_idx_ubyte(p); }, p, "dimensions");
}

TEST(IdxReader, TrailingBytesAreAnError) {
  testing::TempDir dir;
  Bytes b = small_images();
  b.push_back(0);
  const auto p = dir.path() / "long.gz";
  write_gz(p, b);
  expect_error([&] { read_idx_ubyte(p); }, p, "after the declared");
}

TEST(IdxReader, HugeDeclaredSizeIsRejectedBeforeAllocating) {
  testing::TempDir dir;
  const auto p = dir.path() / "huge.gz";
  write_gz(p, idx_header(0x08, {0xffffffffu, 0xffffffffu}));
  expect_error([&] { read_idx_ubyte(p); }, p, "exceeds");
}

// Within the 2 GiB limit but over a few bytes of data: the reader used to
// allocate the declared size before reading (found by fuzz/idx_fuzz.cpp: slow,
// and an out-of-memory crash under a memory limit).
TEST(IdxReader, DeclaredSizeOverFewBytesFailsWithoutAllocatingIt) {
  testing::TempDir dir;
  const auto p = dir.path() / "liar.gz";
  Bytes b = idx_header(0x08, {0x7fffffffu});
  b.insert(b.end(), {1, 2, 3});
  write_gz(p, b);
  expect_error([&] { read_idx_ubyte(p); }, p,
               "truncated while reading the data: expected 2147483647 bytes, got 3");
}

TEST(IdxReader, WrongShapeOrLabelRangeIsAnError) {
  testing::TempDir dir;
  const auto p = dir.path() / "img.gz";
  write_gz(p, small_images());
  expect_error([&] { read_idx_images(p, 28, 28); }, p, "[N, 28, 28]");
  expect_error([&] { read_idx_labels(p, 10); }, p, "[N]");

  Bytes labels = idx_header(0x08, {2});
  labels.push_back(1);
  labels.push_back(10);
  const auto lp = dir.path() / "lab.gz";
  write_gz(lp, labels);
  expect_error([&] { read_idx_labels(lp, 10); }, lp, "label 10 out of range");
}

TEST(IdxReader, MissingFileIsAnError) {
  testing::TempDir dir;
  const auto p = dir.path() / "absent.gz";
  expect_error([&] { read_idx_ubyte(p); }, p, "cannot open");
}

}  // namespace
}  // namespace qtune
