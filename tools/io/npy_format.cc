// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/npy_format.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

#include "quant/error.h"
#include "tools/io/internal/raw_file.h"
#include "tools/io/internal/strided_reader.h"

namespace tqsearch::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct DtypeEntry {
  std::string_view descr;
  ElementType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"<f4", ElementType::kFloat32}, {"<f2", ElementType::kFloat16}, {"<i4", ElementType::kInt32},
    {"<i8", ElementType::kInt64},   {"|u1", ElementType::kUint8},   {"|i1", ElementType::kInt8},
};

std::string_view descr_of(ElementType t) {
  for (const auto& e : kDtypes) {
    if (e.type == t) return e.descr;
  }
  return {};
}

/// Minimal parser for the Python dict literal of an npy header.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, std::string_view text) : path_(path), s_(text) {}

  void parse(std::string* descr, bool* fortran, std::vector<uint64_t>* shape, bool* has_descr, bool* has_fortran,
             bool* has_shape) {
    skip_ws();
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() == '[') fail("structured dtypes (descr is a list) are not supported; expected a plain dtype "
                                "such as '<f4'");
        *descr = parse_string();
        *has_descr = true;
      } else if (key == "fortran_order") {
        *fortran = parse_bool();
        *has_fortran = true;
      } else if (key == "shape") {
        *shape = parse_tuple();
        *has_shape = true;
      } else {
        fail("unexpected key '" + key + "' (expected descr, fortran_order, shape)");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_ws();
      expect('}');
      break;
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    TQ_THROW(path_ << ": malformed .npy header at character " << pos_ << " of \"" << std::string(s_) << "\": "
                   << what);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    ++pos_;
    const size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<uint64_t> parse_tuple() {
    expect('(');
    std::vector<uint64_t> out;
    while (true) {
      skip_ws();
      if (peek() == ')') {
        ++pos_;
        return out;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer in shape");
      uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const uint64_t digit = uint64_t(peek() - '0');
        if (v > (UINT64_MAX - digit) / 10) fail("shape value overflows 64 bits");
        v = v * 10 + digit;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      out.push_back(v);
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in shape");
      }
    }
  }

  const std::string& path_;
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(const std::string& path, std::string_view bytes) {
  TQ_CHECK(!bytes.empty(), path << ": file is empty (0 bytes); expected a NumPy .npy file");
  TQ_CHECK(bytes.size() >= kMagicLen && std::memcmp(bytes.data(), kMagic, kMagicLen) == 0,
           path << ": bad magic at byte offset 0: expected \"\\x93NUMPY\" (is this a .npy file? .npz archives and "
                   "pickles are not supported)");
  TQ_CHECK(bytes.size() >= 10, path << ": truncated .npy header (" << bytes.size() << " bytes)");
  NpyHeader h;
  h.major_version = static_cast<unsigned char>(bytes[6]);
  h.minor_version = static_cast<unsigned char>(bytes[7]);
  TQ_CHECK(h.major_version >= 1 && h.major_version <= 3 && h.minor_version == 0,
           path << ": unsupported .npy format version " << h.major_version << "." << h.minor_version
                << " at byte offset 6; supported: 1.0, 2.0, 3.0");
  uint64_t header_len = 0;
  size_t prefix = 0;
  if (h.major_version == 1) {
    uint16_t len16;
    std::memcpy(&len16, bytes.data() + 8, 2);
    header_len = len16;
    prefix = 10;
  } else {
    TQ_CHECK(bytes.size() >= 12, path << ": truncated .npy header (" << bytes.size() << " bytes)");
    uint32_t len32;
    std::memcpy(&len32, bytes.data() + 8, 4);
    header_len = len32;
    prefix = 12;
  }
  TQ_CHECK(prefix + header_len <= bytes.size(),
           path << ": truncated .npy header: header length field says " << header_len << " bytes after offset "
                << prefix << ", file has only " << bytes.size() - prefix);
  h.data_offset = prefix + header_len;
  const std::string_view text = bytes.substr(prefix, size_t(header_len));

  std::string descr;
  bool fortran = false;
  std::vector<uint64_t> shape;
  bool has_descr = false, has_fortran = false, has_shape = false;
  HeaderParser(path, text).parse(&descr, &fortran, &shape, &has_descr, &has_fortran, &has_shape);
  TQ_CHECK(has_descr && has_fortran && has_shape,
           path << ": .npy header lacks " << (!has_descr ? "'descr'" : !has_fortran ? "'fortran_order'" : "'shape'"));

  // dtype
  bool found = false;
  std::string canonical = descr;
  if (canonical.size() == 3 && canonical[0] == '=') canonical[0] = '<';  // native = little-endian here
  if (canonical == "<u1" || canonical == "=u1") canonical = "|u1";
  if (canonical == "<i1" || canonical == "=i1") canonical = "|i1";
  for (const auto& e : kDtypes) {
    if (canonical == e.descr) {
      h.type = e.type;
      found = true;
    }
  }
  if (!found) {
    std::string hint;
    if (!descr.empty() && descr[0] == '>') hint = " (big-endian: convert with arr.astype(arr.dtype.newbyteorder('<')))";
    else if (descr == "<f8") hint = " (float64: convert with arr.astype(numpy.float32))";
    TQ_THROW(path << ": unsupported dtype '" << descr << "'" << hint
                  << "; supported: '<f4' float32, '<f2' float16, '<i4' int32, '<i8' int64, '|u1' uint8, '|i1' int8");
  }
  TQ_CHECK(!fortran, path << ": fortran_order is True; only C-order arrays are supported (save "
                             "numpy.ascontiguousarray(arr))");
  TQ_CHECK(shape.size() == 1 || shape.size() == 2,
           path << ": array has " << shape.size() << " dimensions; expected (n, d) or (n,)");
  h.rows = size_t(shape[0]);
  h.cols = shape.size() == 2 ? size_t(shape[1]) : 1;
  h.one_dimensional = shape.size() == 1;
  TQ_CHECK(h.rows >= 1 && h.cols >= 1, path << ": array is empty (shape (" << shape[0]
                                            << (shape.size() == 2 ? ", " + std::to_string(shape[1]) : ",")
                                            << ")); expected at least one row and one column");
  return h;
}

std::unique_ptr<MatrixReader> open_npy(const std::string& path) {
  auto file = std::make_unique<internal::RawFileReader>(path);
  const uint64_t size = file->size();
  TQ_CHECK(size > 0, path << ": file is empty (0 bytes); expected a NumPy .npy file");
  // Read the fixed prefix, then the whole header.
  std::string bytes(size_t(std::min<uint64_t>(size, 12)), '\0');
  file->read_at(0, bytes.size(), bytes.data());
  if (bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, kMagicLen) == 0) {
    const int major = static_cast<unsigned char>(bytes[6]);
    uint64_t header_len = 0;
    size_t prefix = 10;
    if (major == 1) {
      uint16_t len16;
      std::memcpy(&len16, bytes.data() + 8, 2);
      header_len = len16;
    } else if (bytes.size() >= 12) {
      uint32_t len32;
      std::memcpy(&len32, bytes.data() + 8, 4);
      header_len = len32;
      prefix = 12;
    }
    const uint64_t want = std::min<uint64_t>(size, prefix + header_len);
    bytes.resize(size_t(want));
    file->read_at(0, bytes.size(), bytes.data());
  }
  const NpyHeader h = parse_npy_header(path, bytes);
  const uint64_t row_bytes = uint64_t(h.cols) * element_size(h.type);
  const uint64_t expected = h.data_offset + uint64_t(h.rows) * row_bytes;
  if (size < expected) {
    const uint64_t whole = (size - h.data_offset) / row_bytes;
    TQ_THROW(path << ": truncated: header says shape (" << h.rows << ", " << h.cols << ") "
                  << element_type_name(h.type) << " = " << expected << " bytes, file has " << size << "; row "
                  << whole << " at byte offset " << h.data_offset + whole * row_bytes << " is incomplete");
  }
  TQ_CHECK(size == expected, path << ": header says shape (" << h.rows << ", " << h.cols << ") "
                                  << element_type_name(h.type) << " = " << expected << " bytes, but the file has "
                                  << size - expected << " extra bytes after the last row");
  return std::make_unique<internal::StridedReader>(std::move(file), FileFormat::kNpy, h.type, h.rows, h.cols,
                                                   internal::StridedLayout{h.data_offset, false});
}

void write_npy(const std::string& path, const MatrixView& m, const NpyWriteOptions& options) {
  const std::string_view descr = descr_of(m.type);
  TQ_CHECK(!descr.empty(), path << ": cannot write " << element_type_name(m.type)
                                << " to .npy; supported: float32, float16, int32, int64, uint8, int8");
  TQ_CHECK(m.rows >= 1 && m.cols >= 1, path << ": nothing to write (shape (" << m.rows << ", " << m.cols << "))");
  TQ_CHECK(m.data != nullptr, path << ": null data pointer");
  TQ_CHECK(options.major_version >= 0 && options.major_version <= 3,
           path << ": .npy format version " << options.major_version << " unsupported; use 1, 2 or 3 (0 = auto)");
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" +
                     std::to_string(m.rows) + ", " + std::to_string(m.cols) + "), }";
  int major = options.major_version;
  if (major == 0) major = dict.size() + 11 > 65535 ? 2 : 1;
  const size_t prefix = major == 1 ? 10 : 12;
  // Pad with spaces so that prefix + header (ending in '\n') is a multiple of 64.
  size_t total = prefix + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  TQ_CHECK(major != 1 || dict.size() <= 65535, path << ": header too long for .npy version 1.0");
  std::string head(kMagic, kMagicLen);
  head.push_back(char(major));
  head.push_back(char(0));
  if (major == 1) {
    const uint16_t len = uint16_t(dict.size());
    head.append(reinterpret_cast<const char*>(&len), 2);
  } else {
    const uint32_t len = uint32_t(dict.size());
    head.append(reinterpret_cast<const char*>(&len), 4);
  }
  head += dict;
  internal::RawFileWriter out(path);
  out.write(head.data(), head.size());
  out.write(m.data, m.rows * m.cols * element_size(m.type));
  out.commit();
}

}  // namespace tqsearch::io
