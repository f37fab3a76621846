// The .npy parser against files built here byte by byte, as numpy.save
// writes them (format 1.0 and 2.0 headers), and its errors word for word.
#include "models/npy_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "common/error.h"
#include "tests/support/expect_error.h"
#include "tests/support/npy_bytes.h"

namespace qtune {
namespace {

using testing::expect_error;
using testing::npy_bytes;

TEST(NpyFile, ReadsTheShapeTypeAndBytesOfEachVersion) {
  // np.arange(6, dtype=np.uint8).reshape(2, 3): the bytes 0..5 in C order.
  const std::string bytes("\0\1\2\3\4\5", 6);
  for (int major : {1, 2, 3}) {
    const NpyArray a = parse_npy(
        npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", bytes, major),
        "a.npy");
    EXPECT_EQ(a.dtype, "u1");
    EXPECT_EQ(a.itemsize, 1);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(std::string(a.data.begin(), a.data.end()), bytes) << "version " << major;
  }
  // np.array([1.0, -2.0], dtype='<f4'): 0x3f800000 and 0xc0000000, little-endian.
  const NpyArray f =
      parse_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                          std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8)),
                "f.npy");
  EXPECT_EQ(f.dtype, "f4");
  EXPECT_EQ(f.itemsize, 4);
  EXPECT_EQ(f.dims, (std::vector<int64_t>{2}));
  float v[2];
  std::memcpy(v, f.data.data(), 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.0f);
  // Keys in another order, double quotes, no trailing comma, padding spaces.
  const NpyArray g =
      parse_npy(npy_bytes("{\"shape\": (1, 1), \"fortran_order\": False, \"descr\": \"<i8\"}      ",
                          std::string(8, '\x07')),
                "g.npy");
  EXPECT_EQ(g.dtype, "i8");
  EXPECT_EQ(g.dims, (std::vector<int64_t>{1, 1}));
  // A zero-length array holds no data.
  EXPECT_TRUE(
      parse_npy(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 28), }", ""),
                "e.npy")
          .data.empty());
}

TEST(NpyFile, BadFilesAreOneLineErrorsNamingThem) {
  const std::string ok_header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }";
  expect_error([] { parse_npy("P5 28 28 255\n", "x.npy"); },
               "x.npy: not a numpy .npy file (no \\x93NUMPY magic)");
  expect_error(
      [&] {
        std::string b = npy_bytes(ok_header, "ab");
        b[6] = 4;
        parse_npy(b, "x.npy");
      },
      "x.npy: unsupported .npy format version 4.0 (expected 1.0, 2.0 or 3.0)");
  expect_error([&] { parse_npy(npy_bytes(ok_header, "ab").substr(0, 20), "x.npy"); },
               "x.npy: truncated .npy header (declares");
  expect_error([&] { parse_npy(npy_bytes(ok_header, "a"), "x.npy"); },
               "x.npy: the shape (1 dimensions) holds 2 bytes of data, the file has 1");
  expect_error([&] { parse_npy(npy_bytes(ok_header, "abc"), "x.npy"); },
               "x.npy: the shape (1 dimensions) holds 2 bytes of data, the file has 3");
  expect_error(
      [] {
        parse_npy(npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", ""),
                  "x.npy");
      },
      "x.npy: unsupported dtype '|O'");
  expect_error(
      [] {
        parse_npy(npy_bytes("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }", "abcd"),
                  "x.npy");
      },
      "x.npy: unsupported dtype '>i4'");
  expect_error(
      [] {
        parse_npy(npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (2,), }", "ab"),
                  "x.npy");
      },
      "x.npy: Fortran-ordered array");
  expect_error([] { parse_npy(npy_bytes("{'descr': '|u1', 'shape': (2,), }", "ab"), "x.npy"); },
               "x.npy: not a numpy .npy header: missing key 'fortran_order'");
  expect_error(
      [] {
        parse_npy(
            npy_bytes("{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, 'shape': (2,)}",
                      "ab"),
            "x.npy");
      },
      "x.npy: not a numpy .npy header: unexpected key 'descr'");
  expect_error(
      [] {
        parse_npy(
            npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", "a"),
            "x.npy");
      },
      "x.npy: expected at most 4 dimensions, got 5");
  expect_error(
      [] {
        parse_npy(
            npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (65536, 65536), }", "a"),
            "x.npy");
      },
      "x.npy: declared size exceeds 2147483648 bytes");
  expect_error([] { read_npy_file("/nonexistent/x.npy"); },
               "/nonexistent/x.npy: cannot open the .npy file");
}

}  // namespace
}  // namespace qtune
