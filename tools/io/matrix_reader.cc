// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/matrix_reader.h"

#include <algorithm>
#include <vector>

#include "quant/error.h"
#include "tools/io/bin_format.h"
#include "tools/io/hdf5_format.h"
#include "tools/io/internal/element_convert.h"
#include "tools/io/npy_format.h"
#include "tools/io/vecs_format.h"

namespace tqsearch::io {

void MatrixReader::check_range(size_t begin, size_t count) const {
  TQ_CHECK(begin <= rows_ && count <= rows_ - begin,
           path_ << ": rows [" << begin << ", " << begin + count << ") requested, the file has " << rows_ << " rows");
}

void MatrixReader::read_floats(size_t begin, size_t count, float* out) {
  check_range(begin, count);
  const size_t n = count * cols_;
  if (type_ == ElementType::kFloat32) {
    read_raw(begin, count, out);
  } else {
    std::vector<char> tmp(n * element_size(type_));
    read_raw(begin, count, tmp.data());
    internal::convert_to_float(type_, tmp.data(), n, out);
  }
  if (is_floating(type_)) {
    const size_t bad = internal::find_non_finite(out, n);
    if (bad != n) {
      const size_t row = begin + bad / cols_, col = bad % cols_;
      TQ_THROW(path_ << ": " << describe_row(row) << ", column " << col << ": value is " << out[bad]
                     << "; vectors must be finite (no NaN or Inf)");
    }
  }
}

void MatrixReader::read_ints(size_t begin, size_t count, int64_t* out) {
  TQ_CHECK(is_integer(type_), path_ << ": holds " << element_type_name(type_)
                                    << " values; integer ids were expected here (.ivecs, .ibin, int32/int64 .npy, "
                                       "HDF5 'neighbors')");
  check_range(begin, count);
  const size_t n = count * cols_;
  if (type_ == ElementType::kInt64) {
    read_raw(begin, count, out);
    return;
  }
  std::vector<char> tmp(n * element_size(type_));
  read_raw(begin, count, tmp.data());
  internal::convert_to_int64(type_, tmp.data(), n, out);
}

std::unique_ptr<MatrixReader> open_matrix(std::string_view path, std::string_view default_dataset) {
  const FileLocation loc = parse_location(path);
  switch (loc.format) {
    case FileFormat::kFvecs:
    case FileFormat::kBvecs:
    case FileFormat::kIvecs: return open_vecs(loc.file, loc.format);
    case FileFormat::kFbin:
    case FileFormat::kU8bin:
    case FileFormat::kI8bin:
    case FileFormat::kIbin: return open_bin(loc.file, loc.format);
    case FileFormat::kNpy: return open_npy(loc.file);
    case FileFormat::kHdf5: return open_hdf5(loc.file, loc.dataset, default_dataset);
  }
  TQ_THROW(std::string(path) << ": unknown file format");
}

void for_each_float_chunk(MatrixReader& reader, size_t chunk_rows,
                          const std::function<void(size_t, size_t, const float*)>& fn) {
  TQ_CHECK(chunk_rows >= 1, "chunk_rows must be >= 1, got " << chunk_rows);
  const size_t rows = reader.rows();
  std::vector<float> buf(std::min(rows, chunk_rows) * reader.cols());
  for (size_t begin = 0; begin < rows; begin += chunk_rows) {
    const size_t count = std::min(chunk_rows, rows - begin);
    reader.read_floats(begin, count, buf.data());
    fn(begin, count, buf.data());
  }
}

Matrix<float> read_float_matrix(std::string_view path, std::string_view default_dataset) {
  auto reader = open_matrix(path, default_dataset);
  Matrix<float> m;
  m.rows = reader->rows();
  m.cols = reader->cols();
  m.data.resize(m.rows * m.cols);
  reader->read_floats(0, m.rows, m.data.data());
  return m;
}

Matrix<int64_t> read_int_matrix(std::string_view path, std::string_view default_dataset) {
  auto reader = open_matrix(path, default_dataset);
  Matrix<int64_t> m;
  m.rows = reader->rows();
  m.cols = reader->cols();
  m.data.resize(m.rows * m.cols);
  reader->read_ints(0, m.rows, m.data.data());
  return m;
}

}  // namespace tqsearch::io
