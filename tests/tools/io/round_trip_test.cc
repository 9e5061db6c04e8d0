// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Every reader/writer pair round-trips, whole and by row ranges, through the extension-dispatching entry points.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "tests/tools/test_util.h"
#include "tools/io/file_format.h"
#include "tools/io/internal/element_convert.h"
#include "tools/io/matrix_reader.h"
#include "tools/io/matrix_writer.h"
#include "tools/io/npy_format.h"

namespace tqsearch::io {
namespace {

using tqsearch::testing::TempDir;

constexpr uint32_t kSeed = 20240611;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 3.f);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

template <class T>
std::vector<T> random_ints(size_t n, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> u(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = T(u(rng));
  return v;
}

/// Reads rows [b, e) of the reader in an odd chunking and compares with `expect`.
void check_partial_floats(MatrixReader& r, const std::vector<float>& expect) {
  const size_t d = r.cols();
  for (size_t b : {size_t(0), size_t(1), r.rows() / 2, r.rows() - 1}) {
    const size_t n = std::min<size_t>(3, r.rows() - b);
    std::vector<float> got(n * d);
    r.read_floats(b, n, got.data());
    for (size_t i = 0; i < n * d; ++i) ASSERT_EQ(got[i], expect[b * d + i]) << "row " << b + i / d;
  }
}

struct FloatCase {
  const char* ext;
  ElementType type;
};

class FloatFormatRoundTrip : public ::testing::TestWithParam<FloatCase> {};

TEST_P(FloatFormatRoundTrip, WritesAndReadsBackExactly) {
  std::printf("seed %u\n", kSeed);
  const FloatCase c = GetParam();
  TempDir dir;
  const size_t n = 37, d = 13;
  const std::string path = dir.file(std::string("m") + c.ext);
  std::vector<float> expect;
  if (c.type == ElementType::kFloat32) {
    expect = random_floats(n * d, kSeed);
    write_matrix(path, MatrixView::of(expect.data(), n, d));
  } else if (c.type == ElementType::kUint8) {
    auto v = random_ints<uint8_t>(n * d, 0, 255, kSeed);
    write_matrix(path, MatrixView::of(v.data(), n, d));
    expect.assign(v.begin(), v.end());
  } else {
    ASSERT_EQ(c.type, ElementType::kInt8);
    auto v = random_ints<int8_t>(n * d, -128, 127, kSeed);
    write_matrix(path, MatrixView::of(v.data(), n, d));
    expect.assign(v.begin(), v.end());
  }
  auto r = open_matrix(path);
  EXPECT_EQ(r->rows(), n);
  EXPECT_EQ(r->cols(), d);
  EXPECT_EQ(r->element_type(), c.type);
  EXPECT_EQ(r->path(), path);
  const Matrix<float> all = read_float_matrix(path);
  EXPECT_EQ(all.rows, n);
  EXPECT_EQ(all.cols, d);
  EXPECT_EQ(all.data, expect);
  check_partial_floats(*r, expect);
  if (c.type != ElementType::kFloat32) {  // integer vector files also read as integers
    const Matrix<int64_t> ints = read_int_matrix(path);
    for (size_t i = 0; i < n * d; ++i) ASSERT_EQ(float(ints.data[i]), expect[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllFloatFormats, FloatFormatRoundTrip,
                         ::testing::Values(FloatCase{".fvecs", ElementType::kFloat32},
                                           FloatCase{".fbin", ElementType::kFloat32},
                                           FloatCase{".npy", ElementType::kFloat32},
                                           FloatCase{".bvecs", ElementType::kUint8},
                                           FloatCase{".u8bin", ElementType::kUint8},
                                           FloatCase{".i8bin", ElementType::kInt8},
                                           FloatCase{".npy", ElementType::kUint8},
                                           FloatCase{".npy", ElementType::kInt8}),
                         [](const auto& info) {
                           std::string ext = info.param.ext + 1;
                           return ext + "_" + std::string(element_type_name(info.param.type));
                         });

class IdFormatRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(IdFormatRoundTrip, Int64IdsNarrowToTheFileTypeAndReadBack) {
  TempDir dir;
  const size_t n = 50, k = 7;
  auto ids = random_ints<int64_t>(n * k, -1, 2000000000, kSeed);
  const std::string path = dir.file(std::string("gt") + GetParam());
  write_matrix(path, MatrixView::of(ids.data(), n, k));
  const Matrix<int64_t> back = read_int_matrix(path);
  EXPECT_EQ(back.rows, n);
  EXPECT_EQ(back.cols, k);
  EXPECT_EQ(back.data, ids);
  auto r = open_matrix(path);
  std::vector<int64_t> part(2 * k);
  r->read_ints(n - 2, 2, part.data());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), ids.begin() + (n - 2) * k));
}

INSTANTIATE_TEST_SUITE_P(AllIdFormats, IdFormatRoundTrip, ::testing::Values(".ivecs", ".ibin", ".npy"),
                         [](const auto& info) { return std::string(info.param + 1); });

TEST(IdFormatRoundTrip, IdsTooLargeForInt32AreRejectedNotTruncated) {
  TempDir dir;
  std::vector<int64_t> ids = {1, 2, int64_t(1) << 33};
  tqsearch::testing::expect_error([&] { write_matrix(dir.file("x.ivecs"), MatrixView::of(ids.data(), 1, 3)); },
                                  {"x.ivecs", "8589934592", "column 2", "int32"});
  // int64 stays int64 in .npy
  write_matrix(dir.file("x.npy"), MatrixView::of(ids.data(), 1, 3));
  EXPECT_EQ(read_int_matrix(dir.file("x.npy")).data, ids);
}

TEST(NpyRoundTrip, EveryHeaderVersionReadsBack) {
  TempDir dir;
  const auto v = random_floats(5 * 4, kSeed);
  for (int major : {1, 2, 3}) {
    const std::string path = dir.file("v" + std::to_string(major) + ".npy");
    write_npy(path, MatrixView::of(v.data(), 5, 4), NpyWriteOptions{major});
    const std::string bytes = tqsearch::testing::read_file(path);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(int(bytes[6]), major);
    uint32_t header_len = uint8_t(bytes[8]) | (uint32_t(uint8_t(bytes[9])) << 8);
    if (major >= 2) header_len |= (uint32_t(uint8_t(bytes[10])) << 16) | (uint32_t(uint8_t(bytes[11])) << 24);
    const size_t data_offset = (major == 1 ? 10 : 12) + header_len;
    EXPECT_EQ(data_offset % 64, 0u) << "data aligned to 64 bytes as numpy writes it";
    EXPECT_EQ(bytes[data_offset - 1], '\n');
    EXPECT_EQ(bytes.size(), data_offset + v.size() * 4);
    EXPECT_EQ(read_float_matrix(path).data, v) << "version " << major;
  }
}

TEST(NpyRoundTrip, Float16WidensExactlyToFloat32) {
  TempDir dir;
  const auto v = random_floats(9 * 6, kSeed);
  std::vector<uint16_t> half(v.size());
  for (size_t i = 0; i < v.size(); ++i) half[i] = internal::float_to_half(v[i]);
  const std::string path = dir.file("h.npy");
  write_npy(path, MatrixView::of_float16(half.data(), 9, 6));
  auto r = open_matrix(path);
  EXPECT_EQ(r->element_type(), ElementType::kFloat16);
  const Matrix<float> back = read_float_matrix(path);
  for (size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(back.data[i], internal::half_to_float(half[i]));
    ASSERT_NEAR(back.data[i], v[i], std::abs(v[i]) * 1e-3f + 1e-4f);  // binary16 keeps 11 significant bits
  }
}

TEST(NpyRoundTrip, OneDimensionalArrayReadsAsOneColumn) {
  TempDir dir;
  // Hand-written as numpy.save would for numpy.arange(5, dtype='<i8').
  std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }";
  while ((10 + dict.size() + 1) % 64 != 0) dict.push_back(' ');
  dict.push_back('\n');
  tqsearch::testing::Bytes b;
  b.str(std::string("\x93NUMPY\x01\x00", 8)).put(uint16_t(dict.size())).str(dict);
  for (int64_t i = 0; i < 5; ++i) b.put(i * 10);
  tqsearch::testing::write_file(dir.file("ids.npy"), b.data());
  const Matrix<int64_t> m = read_int_matrix(dir.file("ids.npy"));
  EXPECT_EQ(m.rows, 5u);
  EXPECT_EQ(m.cols, 1u);
  EXPECT_EQ(m.data, (std::vector<int64_t>{0, 10, 20, 30, 40}));
}

TEST(StreamingReads, ChunksCoverEveryRowOnceInOrder) {
  TempDir dir;
  const size_t n = 1001, d = 3;
  const auto v = random_floats(n * d, kSeed);
  const std::string path = dir.file("s.fvecs");
  write_matrix(path, MatrixView::of(v.data(), n, d));
  auto r = open_matrix(path);
  std::vector<float> seen;
  size_t next = 0, calls = 0;
  for_each_float_chunk(*r, 64, [&](size_t begin, size_t count, const float* rows) {
    EXPECT_EQ(begin, next);
    EXPECT_LE(count, 64u);
    seen.insert(seen.end(), rows, rows + count * d);
    next += count;
    ++calls;
  });
  EXPECT_EQ(next, n);
  EXPECT_EQ(calls, (n + 63) / 64);
  EXPECT_EQ(seen, v);
}

TEST(StreamingReads, RowRangeBeyondTheEndIsAnError) {
  TempDir dir;
  const auto v = random_floats(4 * 2, kSeed);
  write_matrix(dir.file("r.fbin"), MatrixView::of(v.data(), 4, 2));
  auto r = open_matrix(dir.file("r.fbin"));
  std::vector<float> out(10);
  tqsearch::testing::expect_error([&] { r->read_floats(3, 2, out.data()); }, {"r.fbin", "[3, 5)", "4 rows"});
}

}  // namespace
}  // namespace tqsearch::io
