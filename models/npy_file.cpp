#include "models/npy_file.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace qtune {

namespace {

constexpr int64_t kMaxBytes = int64_t{1} << 31;

// The header: a Python dict literal as numpy writes it,
// "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", then spaces
// and a newline. Parsed strictly: three keys, each once.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& where) : s_(text), where_(where) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<int64_t>& shape) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    space();
    expect('{');
    space();
    while (peek() != '}') {
      const std::string key = quoted();
      space();
      expect(':');
      space();
      if (key == "descr" && !seen_descr) {
        descr = quoted();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_order) {
        fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape" && !seen_shape) {
        shape = tuple();
        seen_shape = true;
      } else {
        fail("unexpected key '" + key + "' (expected descr, fortran_order and shape, once each)");
      }
      space();
      if (peek() == ',') {
        ++i_;
        space();
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++i_;
    space();
    if (i_ != s_.size()) fail("text after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
      fail(std::string("missing key '") +
           (!seen_descr   ? "descr"
            : !seen_order ? "fortran_order"
                          : "shape") +
           "'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(detail::concat(where_, ": not a numpy .npy header: ", what, " at byte ", i_,
                               " of the header"));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    for (const auto& [word, value] :
         {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      const std::string w = word;
      if (s_.compare(i_, w.size(), w) == 0) {
        i_ += w.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> out;
    expect('(');
    space();
    while (peek() != ')') {
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        v = v * 10 + (s_[i_++] - '0');
        if (v > kMaxBytes) fail("dimension too large");
      }
      out.push_back(v);
      space();
      if (peek() == ',') {
        ++i_;
        space();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++i_;
    return out;
  }

  const std::string& s_;
  const std::string& where_;
  size_t i_ = 0;
};

uint32_t little_endian(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = v << 8 | static_cast<uint8_t>(b[at + k]);
  return v;
}

}  // namespace

NpyArray parse_npy(const std::string& bytes, const std::string& where) {
  QT_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, where,
           ": not a numpy .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<uint8_t>(bytes[6]), minor = static_cast<uint8_t>(bytes[7]);
  QT_CHECK((major >= 1 && major <= 3) && minor == 0, where, ": unsupported .npy format version ",
           major, ".", minor, " (expected 1.0, 2.0 or 3.0)");
  const int len_bytes = major == 1 ? 2 : 4;
  QT_CHECK(bytes.size() >= static_cast<size_t>(8 + len_bytes), where, ": truncated .npy header");
  const size_t header_len = little_endian(bytes, 8, len_bytes);
  const size_t data_at = 8 + len_bytes + header_len;
  QT_CHECK(header_len <= bytes.size() && data_at <= bytes.size(), where,
           ": truncated .npy header (declares ", header_len, " bytes)");

  std::string descr;
  bool fortran_order = false;
  NpyArray out;
  HeaderParser(bytes.substr(8 + len_bytes, header_len), where)
      .parse(descr, fortran_order, out.dims);
  QT_CHECK(!fortran_order, where,
           ": Fortran-ordered array (save it with C order: np.ascontiguousarray)");
  QT_CHECK(out.dims.size() <= 4, where, ": expected at most 4 dimensions, got ", out.dims.size());
  // Byte order, kind, size: '<f4'. '|' and '=' carry no order (1-byte types, the host's).
  const bool ordered =
      descr.size() == 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=' ||
                            (descr[0] == '>' && descr[2] == '1'));
  out.dtype = ordered ? descr.substr(1) : descr;
  static const char* kTypes[] = {"u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8"};
  bool known = false;
  for (const char* t : kTypes) known = known || out.dtype == t;
  QT_CHECK(ordered && known, where, ": unsupported dtype '", descr,
           "' (expected a little-endian integer of 1 to 8 bytes, float32 or float64)");
  out.itemsize = out.dtype[1] - '0';

  int64_t total = out.itemsize;
  for (int64_t d : out.dims) {
    total *= d;
    QT_CHECK(total <= kMaxBytes, where, ": declared size exceeds ", kMaxBytes, " bytes");
  }
  const auto have = static_cast<int64_t>(bytes.size() - data_at);
  QT_CHECK(have == total, where, ": the shape (", out.dims.size(), " dimensions) holds ", total,
           " bytes of data, the file has ", have);
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_at), bytes.end());
  return out;
}

NpyArray read_npy_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  QT_CHECK(in, path.string(), ": cannot open the .npy file");
  std::ostringstream text;
  text << in.rdbuf();
  QT_CHECK(!in.bad(), path.string(), ": cannot read the .npy file");
  return parse_npy(text.str(), path.string());
}

}  // namespace qtune
