// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Every malformed-file case gives one clear tqsearch::Error naming the file, the row or offset, and what was
// expected. Files are crafted byte by byte in a temporary directory.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/tools/test_util.h"
#include "tools/io/matrix_reader.h"
#include "tools/io/matrix_writer.h"

namespace tqsearch::io {
namespace {

using tqsearch::testing::Bytes;
using tqsearch::testing::expect_error;
using tqsearch::testing::TempDir;
using tqsearch::testing::write_file;

/// Reads everything as floats (what `build` does).
void read_all_floats(const std::string& path) { (void)read_float_matrix(path); }
void read_all_ints(const std::string& path) { (void)read_int_matrix(path); }

/// A valid .fvecs of n rows of dimension d, values row·100 + col.
Bytes fvecs_bytes(int n, int d) {
  Bytes b;
  for (int i = 0; i < n; ++i) {
    b.put(int32_t(d));
    for (int j = 0; j < d; ++j) b.put(float(i * 100 + j));
  }
  return b;
}

// ---- unknown formats ----

TEST(MalformedFiles, UnknownExtensionListsTheSupportedOnes) {
  expect_error([] { read_all_floats("vectors.csv"); }, {"vectors.csv", "unrecognized file extension", ".fvecs", ".npy"});
}

TEST(MalformedFiles, MissingFileNamesThePath) {
  TempDir dir;
  expect_error([&] { read_all_floats(dir.file("nope.fvecs")); }, {"nope.fvecs", "cannot open"});
}

// ---- TEXMEX ----

TEST(MalformedFiles, EmptyVecsFile) {
  TempDir dir;
  for (const char* ext : {".fvecs", ".bvecs", ".ivecs"}) {
    const std::string p = dir.file(std::string("empty") + ext);
    write_file(p, "");
    expect_error([&] { read_all_floats(p); }, {p, "empty (0 bytes)"});
  }
}

TEST(MalformedFiles, VecsShorterThanTheDimensionHeader) {
  TempDir dir;
  write_file(dir.file("a.fvecs"), std::string("\x04\x00", 2));
  expect_error([&] { read_all_floats(dir.file("a.fvecs")); }, {"a.fvecs", "2 bytes", "dimension header"});
}

TEST(MalformedFiles, VecsImplausibleDimension) {
  TempDir dir;
  for (int32_t d : {0, -3, 1 << 30}) {
    Bytes b;
    b.put(d).put(1.f).put(2.f);
    write_file(dir.file("d.fvecs"), b.data());
    expect_error([&] { read_all_floats(dir.file("d.fvecs")); },
                 {"d.fvecs", "row 0 (byte offset 0)", "dimension header is " + std::to_string(d)});
  }
}

TEST(MalformedFiles, VecsTruncatedLastRowIsNamed) {
  TempDir dir;
  Bytes b = fvecs_bytes(3, 4);  // rows of 20 bytes
  std::string bytes = b.data().substr(0, b.size() - 6);
  write_file(dir.file("t.fvecs"), bytes);
  expect_error([&] { read_all_floats(dir.file("t.fvecs")); },
               {"t.fvecs", "54 bytes", "20 bytes", "row 2 at byte offset 40 is truncated", "14 of 20"});
}

TEST(MalformedFiles, VecsWrongDimensionInALaterRowIsNamedWhenRead) {
  TempDir dir;
  // Rows 0..2 of d=4, then a row claiming d=3 but padded to 4 values, so the file size stays consistent.
  Bytes b = fvecs_bytes(3, 4);
  b.put(int32_t(3)).put(1.f).put(2.f).put(3.f).put(4.f);
  write_file(dir.file("w.fvecs"), b.data());
  auto r = open_matrix(dir.file("w.fvecs"));  // opening checks row 0 and the size only
  std::vector<float> out(4 * 4);
  r->read_floats(0, 3, out.data());  // the good rows read fine
  EXPECT_EQ(out[4 * 2 + 1], 201.f);
  expect_error([&] { r->read_floats(0, 4, out.data()); },
               {"w.fvecs", "row 3 (byte offset 60)", "dimension header says 3", "expected 4"});
}

TEST(MalformedFiles, NaNAndInfInFloatRowsAreRejectedWithRowAndColumn) {
  TempDir dir;
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> v(5 * 3, 1.f);
    v[2 * 3 + 1] = bad;
    write_matrix(dir.file("n.fvecs"), MatrixView::of(v.data(), 5, 3));
    expect_error([&] { read_all_floats(dir.file("n.fvecs")); },
                 {"n.fvecs", "row 2 (byte offset 32)", "column 1", "must be finite"});
    write_matrix(dir.file("n.fbin"), MatrixView::of(v.data(), 5, 3));
    expect_error([&] { read_all_floats(dir.file("n.fbin")); }, {"n.fbin", "row 2 (byte offset 32)", "column 1"});
    write_matrix(dir.file("n.npy"), MatrixView::of(v.data(), 5, 3));
    expect_error([&] { read_all_floats(dir.file("n.npy")); }, {"n.npy", "row 2 (byte offset 152)", "column 1"});
  }
}

TEST(MalformedFiles, IdsRequestedFromAFloatFile) {
  TempDir dir;
  write_file(dir.file("f.fvecs"), fvecs_bytes(2, 2).data());
  expect_error([&] { read_all_ints(dir.file("f.fvecs")); }, {"f.fvecs", "float32", "integer ids were expected"});
}

// ---- big-ann .fbin/.u8bin/.i8bin/.ibin ----

TEST(MalformedFiles, EmptyOrHeaderlessBinFiles) {
  TempDir dir;
  write_file(dir.file("e.fbin"), "");
  expect_error([&] { read_all_floats(dir.file("e.fbin")); }, {"e.fbin", "empty (0 bytes)", "8-byte header"});
  write_file(dir.file("h.u8bin"), std::string(5, '\1'));
  expect_error([&] { read_all_floats(dir.file("h.u8bin")); }, {"h.u8bin", "5 bytes", "too short", "8-byte header"});
}

TEST(MalformedFiles, BinZeroRowsOrZeroDimension) {
  TempDir dir;
  Bytes a;
  a.put(uint32_t(0)).put(uint32_t(4));
  write_file(dir.file("z.fbin"), a.data());
  expect_error([&] { read_all_floats(dir.file("z.fbin")); }, {"z.fbin", "n = 0"});
  Bytes b;
  b.put(uint32_t(3)).put(uint32_t(0));
  write_file(dir.file("z.ibin"), b.data());
  expect_error([&] { read_all_ints(dir.file("z.ibin")); }, {"z.ibin", "d = 0"});
}

TEST(MalformedFiles, BinTruncatedNamesTheIncompleteRow) {
  TempDir dir;
  Bytes b;
  b.put(uint32_t(10)).put(uint32_t(4));  // needs 8 + 160 bytes
  for (int i = 0; i < 25; ++i) b.put(float(i));  // 6.25 rows
  write_file(dir.file("t.fbin"), b.data());
  expect_error([&] { read_all_floats(dir.file("t.fbin")); },
               {"t.fbin", "truncated", "n = 10, d = 4", "168 bytes", "file has 108", "row 6 at byte offset 104"});
}

TEST(MalformedFiles, BinTrailingBytesAreAnError) {
  TempDir dir;
  Bytes b;
  b.put(uint32_t(2)).put(uint32_t(2)).put(int32_t(1)).put(int32_t(2)).put(int32_t(3)).put(int32_t(4)).put(int32_t(5));
  write_file(dir.file("x.ibin"), b.data());
  expect_error([&] { read_all_ints(dir.file("x.ibin")); }, {"x.ibin", "4 extra bytes"});
}

// ---- NumPy ----

std::string npy_bytes(const std::string& dict_body, size_t data_bytes, int major = 1) {
  std::string dict = dict_body;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict.push_back(' ');
  dict.push_back('\n');
  Bytes b;
  b.str(std::string("\x93NUMPY", 6)).put(uint8_t(major)).put(uint8_t(0));
  if (major == 1) {
    b.put(uint16_t(dict.size()));
  } else {
    b.put(uint32_t(dict.size()));
  }
  b.str(dict).str(std::string(data_bytes, '\0'));
  return b.data();
}

TEST(MalformedFiles, NpyEmptyAndBadMagic) {
  TempDir dir;
  write_file(dir.file("e.npy"), "");
  expect_error([&] { read_all_floats(dir.file("e.npy")); }, {"e.npy", "empty (0 bytes)"});
  write_file(dir.file("m.npy"), "PK\x03\x04 this is a zip archive, not an npy file");
  expect_error([&] { read_all_floats(dir.file("m.npy")); }, {"m.npy", "bad magic", "byte offset 0", "\\x93NUMPY"});
}

TEST(MalformedFiles, NpyUnsupportedVersion) {
  TempDir dir;
  std::string bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", 4);
  bytes[6] = 4;
  write_file(dir.file("v.npy"), bytes);
  expect_error([&] { read_all_floats(dir.file("v.npy")); }, {"v.npy", "version 4.0", "1.0, 2.0, 3.0"});
}

TEST(MalformedFiles, NpyTruncatedHeader) {
  TempDir dir;
  const std::string bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", 0);
  write_file(dir.file("h.npy"), bytes.substr(0, 30));
  expect_error([&] { read_all_floats(dir.file("h.npy")); }, {"h.npy", "truncated .npy header", "header length"});
}

TEST(MalformedFiles, NpyUnsupportedDtypesSayWhatIsSupported) {
  TempDir dir;
  struct Case {
    const char* descr;
    const char* hint;
  };
  for (const Case& c : {Case{"<f8", "astype(numpy.float32)"}, Case{">f4", "big-endian"}, Case{"<c8", "'<c8'"},
                        Case{"<U10", "'<U10'"}, Case{"<u4", "'<u4'"}}) {
    write_file(dir.file("t.npy"),
               npy_bytes(std::string("{'descr': '") + c.descr + "', 'fortran_order': False, 'shape': (2, 2), }", 64));
    expect_error([&] { read_all_floats(dir.file("t.npy")); },
                 {"t.npy", std::string("unsupported dtype '") + c.descr + "'", c.hint, "'<f4' float32", "'<f2' float16"});
  }
}

TEST(MalformedFiles, NpyStructuredDtype) {
  TempDir dir;
  write_file(dir.file("s.npy"),
             npy_bytes("{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (2,), }", 16));
  expect_error([&] { read_all_floats(dir.file("s.npy")); }, {"s.npy", "structured dtypes"});
}

TEST(MalformedFiles, NpyFortranOrderIsRejected) {
  TempDir dir;
  write_file(dir.file("f.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24));
  expect_error([&] { read_all_floats(dir.file("f.npy")); }, {"f.npy", "fortran_order is True", "C-order"});
}

TEST(MalformedFiles, NpyWrongRankOrEmptyShape) {
  TempDir dir;
  write_file(dir.file("r.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96));
  expect_error([&] { read_all_floats(dir.file("r.npy")); }, {"r.npy", "3 dimensions", "(n, d) or (n,)"});
  write_file(dir.file("s.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4));
  expect_error([&] { read_all_floats(dir.file("s.npy")); }, {"s.npy", "0 dimensions"});
  write_file(dir.file("z.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 8), }", 0));
  expect_error([&] { read_all_floats(dir.file("z.npy")); }, {"z.npy", "array is empty", "(0, 8)"});
}

TEST(MalformedFiles, NpyMalformedHeaderDict) {
  TempDir dir;
  write_file(dir.file("d.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 1), }", 4));
  expect_error([&] { read_all_floats(dir.file("d.npy")); }, {"d.npy", "malformed .npy header", "True or False"});
  write_file(dir.file("k.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, }", 4));
  expect_error([&] { read_all_floats(dir.file("k.npy")); }, {"k.npy", "lacks 'shape'"});
}

TEST(MalformedFiles, NpyTruncatedDataAndTrailingBytes) {
  TempDir dir;
  // shape (4, 3) float32 needs 48 data bytes after the 128-byte header (padded to a multiple of 64 as numpy does).
  write_file(dir.file("t.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 30));
  expect_error([&] { read_all_floats(dir.file("t.npy")); },
               {"t.npy", "truncated", "shape (4, 3)", "176 bytes", "file has 158", "row 2 at byte offset 152"});
  write_file(dir.file("x.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 52, 2));
  expect_error([&] { read_all_floats(dir.file("x.npy")); }, {"x.npy", "4 extra bytes"});
}

TEST(MalformedFiles, NpyFloat16NaNIsRejected) {
  TempDir dir;
  std::string bytes = npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }", 0);
  Bytes data;
  data.put(uint16_t(0x3c00)).put(uint16_t(0x3c00)).put(uint16_t(0x7e00)).put(uint16_t(0x3c00));  // 1, 1, NaN, 1
  write_file(dir.file("h.npy"), bytes + data.data());
  expect_error([&] { read_all_floats(dir.file("h.npy")); }, {"h.npy", "row 1", "column 0", "must be finite"});
}

}  // namespace
}  // namespace tqsearch::io
