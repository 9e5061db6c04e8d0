// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Streaming access to a matrix stored in a vector file: read rows [begin, begin + count) without loading the
/// file (chunked pread; memory use is the caller's buffer), plus read-all conveniences.
///
/// Every error is a tqsearch::Error naming the file, the row and/or byte offset, and what was expected:
/// empty and truncated files, wrong per-row dimension in .fvecs/.bvecs/.ivecs, bad NumPy magic or header,
/// unsupported dtypes, NaN/Inf where vectors are read, integers requested from a float file.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tools/io/element_type.h"
#include "tools/io/file_format.h"
#include "tools/io/matrix.h"

namespace tqsearch::io {

class MatrixReader {
 public:
  virtual ~MatrixReader() = default;
  MatrixReader(const MatrixReader&) = delete;
  MatrixReader& operator=(const MatrixReader&) = delete;

  /// The path as given (HDF5: "file.hdf5:dataset").
  const std::string& path() const { return path_; }
  FileFormat format() const { return format_; }
  /// Type stored in the file.
  ElementType element_type() const { return type_; }
  size_t rows() const { return rows_; }  ///< ≥ 1
  size_t cols() const { return cols_; }  ///< ≥ 1 (a 1-D NumPy/HDF5 array reads as (n, 1))

  /// Rows [begin, begin + count) widened to float32. Float data must be finite: a NaN or ±Inf throws, naming
  /// the row, the column and the byte offset. Integer files (bvecs, u8bin, …) are converted exactly.
  /// @param out  (count, cols()) row-major float32
  void read_floats(size_t begin, size_t count, float* out);

  /// Rows [begin, begin + count) as int64 (ids, ground truth). Throws for floating-point files.
  /// @param out  (count, cols()) row-major int64
  void read_ints(size_t begin, size_t count, int64_t* out);

  /// "row 12 (byte offset 4848)" — how errors point into this file.
  virtual std::string describe_row(size_t row) const = 0;

 protected:
  MatrixReader(std::string path, FileFormat format, ElementType type, size_t rows, size_t cols)
      : path_(std::move(path)), format_(format), type_(type), rows_(rows), cols_(cols) {}

  /// Copy count·cols() elements of element_type() for rows [begin, begin + count), packed, into out.
  /// Implementations validate per-row structure (e.g. the .fvecs dimension header) and name the row on error.
  virtual void read_raw(size_t begin, size_t count, void* out) = 0;

 private:
  void check_range(size_t begin, size_t count) const;

  std::string path_;
  FileFormat format_;
  ElementType type_;
  size_t rows_;
  size_t cols_;
};

/// Open a vector file for streaming reads; the format comes from the extension (see file_format.h).
/// @param path             file path; for HDF5 optionally "file.hdf5:dataset"
/// @param default_dataset  HDF5 dataset to use when the path names none ("train", "test", "neighbors"); when
///                         both are empty, a file holding exactly one 2-D dataset uses it, else an error lists them
std::unique_ptr<MatrixReader> open_matrix(std::string_view path, std::string_view default_dataset = {});

/// Call fn(begin, count, rows) over the whole matrix in chunks of at most chunk_rows rows (float32, finite).
/// Memory: one chunk of chunk_rows·cols floats.
void for_each_float_chunk(MatrixReader& reader, size_t chunk_rows,
                          const std::function<void(size_t begin, size_t count, const float* rows)>& fn);

/// Read a whole file as float32 (vectors: finite values required).
Matrix<float> read_float_matrix(std::string_view path, std::string_view default_dataset = {});
/// Read a whole integer file (ids, ground truth) as int64.
Matrix<int64_t> read_int_matrix(std::string_view path, std::string_view default_dataset = {});

}  // namespace tqsearch::io
