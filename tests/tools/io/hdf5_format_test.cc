// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// ann-benchmarks HDF5 files: round trip of train/test/neighbors/distances and the distance attribute, dataset
// selection, malformed files. Skipped (with the reason) when tqsearch was built without libhdf5.

#include "tools/io/hdf5_format.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tests/tools/test_util.h"
#include "tools/io/file_format.h"
#include "tools/io/matrix_reader.h"
#include "tools/io/matrix_writer.h"

namespace tqsearch::io {
namespace {

using tqsearch::testing::expect_error;
using tqsearch::testing::TempDir;

#define SKIP_WITHOUT_HDF5()                                                                       \
  if (!hdf5_supported()) GTEST_SKIP() << "built without HDF5 (Debian libhdf5-dev not found at configure time)"

TEST(Hdf5Format, AnnBenchmarksLayoutRoundTrips) {
  SKIP_WITHOUT_HDF5();
  TempDir dir;
  const std::string file = dir.file("toy-8-euclidean.hdf5");
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::vector<float> train(100 * 8), test(5 * 8), dist(5 * 10);
  for (auto& x : train) x = g(rng);
  for (auto& x : test) x = g(rng);
  for (auto& x : dist) x = g(rng);
  std::vector<int32_t> nbr(5 * 10);
  for (size_t i = 0; i < nbr.size(); ++i) nbr[i] = int32_t((i * 37) % 100);
  write_matrix(file + ":train", MatrixView::of(train.data(), 100, 8));
  write_matrix(file + ":test", MatrixView::of(test.data(), 5, 8));
  write_matrix(file + ":neighbors", MatrixView::of(nbr.data(), 5, 10));
  write_matrix(file + ":distances", MatrixView::of(dist.data(), 5, 10));
  write_hdf5_file_attribute(file, "distance", "euclidean");

  EXPECT_EQ(hdf5_dataset_names(file), (std::vector<std::string>{"distances", "neighbors", "test", "train"}));
  EXPECT_EQ(hdf5_file_attribute(file, "distance").value_or(""), "euclidean");
  EXPECT_FALSE(hdf5_file_attribute(file, "point_type").has_value());

  EXPECT_EQ(read_float_matrix(file + ":train").data, train);
  EXPECT_EQ(read_float_matrix(file, "test").data, test);  // default dataset when the path names none
  EXPECT_EQ(read_float_matrix(file + ":distances").data, dist);
  const Matrix<int64_t> n = read_int_matrix(file + ":neighbors");
  ASSERT_EQ(n.rows, 5u);
  ASSERT_EQ(n.cols, 10u);
  for (size_t i = 0; i < nbr.size(); ++i) ASSERT_EQ(n.data[i], nbr[i]);

  auto r = open_matrix(file + ":train");
  EXPECT_EQ(r->format(), FileFormat::kHdf5);
  EXPECT_EQ(r->element_type(), ElementType::kFloat32);
  std::vector<float> rows(3 * 8);
  r->read_floats(97, 3, rows.data());  // a hyperslab at the end
  EXPECT_TRUE(std::equal(rows.begin(), rows.end(), train.begin() + 97 * 8));
}

TEST(Hdf5Format, DatasetSelectionErrorsListWhatTheFileHolds) {
  SKIP_WITHOUT_HDF5();
  TempDir dir;
  const std::string file = dir.file("x.h5");
  std::vector<float> a(4, 1.f);
  write_matrix(file + ":train", MatrixView::of(a.data(), 2, 2));
  write_matrix(file + ":test", MatrixView::of(a.data(), 2, 2));
  expect_error([&] { (void)open_matrix(file); }, {"x.h5", "name the dataset", "test, train"});
  expect_error([&] { (void)open_matrix(file + ":queries"); }, {"no dataset 'queries'", "test, train"});
  expect_error([&] { write_matrix(file + ":train", MatrixView::of(a.data(), 2, 2)); }, {"x.h5:train", "already exists"});
  expect_error([&] { write_matrix(file, MatrixView::of(a.data(), 2, 2)); }, {"x.h5", "name the HDF5 dataset"});
  expect_error([&] { (void)read_int_matrix(file + ":train"); }, {"x.h5:train", "integer ids were expected"});
}

TEST(Hdf5Format, NotAnHdf5FileOrEmpty) {
  SKIP_WITHOUT_HDF5();
  TempDir dir;
  tqsearch::testing::write_file(dir.file("fake.hdf5"), "this is not HDF5 at all, just text padding padding");
  expect_error([&] { (void)open_matrix(dir.file("fake.hdf5:train")); }, {"fake.hdf5", "not an HDF5 file"});
  tqsearch::testing::write_file(dir.file("empty.hdf5"), "");
  expect_error([&] { (void)open_matrix(dir.file("empty.hdf5:train")); }, {"empty.hdf5", "empty (0 bytes)"});
}

TEST(Hdf5Format, NaNInTrainIsRejected) {
  SKIP_WITHOUT_HDF5();
  TempDir dir;
  std::vector<float> a(3 * 2, 0.5f);
  a[5] = std::numeric_limits<float>::quiet_NaN();
  write_matrix(dir.file("n.hdf5:train"), MatrixView::of(a.data(), 3, 2));
  expect_error([&] { (void)read_float_matrix(dir.file("n.hdf5:train")); }, {"n.hdf5:train", "row 2", "column 1"});
}

TEST(Hdf5Format, UnsupportedBuildSaysSo) {
  if (hdf5_supported()) GTEST_SKIP() << "HDF5 is built in; this checks the error of builds without it";
  expect_error([] { (void)open_matrix("a.hdf5:train"); }, {"built without HDF5", "libhdf5-dev"});
}

}  // namespace
}  // namespace tqsearch::io
