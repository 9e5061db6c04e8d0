// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The MatrixReader shared by every fixed-layout format: a header of data_offset bytes, then rows of equal size,
/// each optionally prefixed by an int32 that must equal the row length (TEXMEX .fvecs/.bvecs/.ivecs).

#include <cstdint>
#include <string>
#include <vector>

#include "tools/io/internal/raw_file.h"
#include "tools/io/matrix_reader.h"

namespace tqsearch::io::internal {

struct StridedLayout {
  uint64_t data_offset = 0;   ///< bytes before row 0
  bool row_dim_prefix = false;  ///< each row starts with int32 == cols (TEXMEX)
};

class StridedReader final : public MatrixReader {
 public:
  /// The caller has validated that the file holds exactly rows whole rows after data_offset.
  StridedReader(std::unique_ptr<RawFileReader> file, FileFormat format, ElementType type, size_t rows,
                size_t cols, StridedLayout layout);

  std::string describe_row(size_t row) const override;

 protected:
  void read_raw(size_t begin, size_t count, void* out) override;

 private:
  uint64_t row_offset(size_t row) const { return layout_.data_offset + uint64_t(row) * row_bytes_; }

  std::unique_ptr<RawFileReader> file_;
  StridedLayout layout_;
  uint64_t payload_bytes_;  ///< cols · element size
  uint64_t row_bytes_;      ///< payload + 4 when prefixed
  std::vector<char> scratch_;
};

}  // namespace tqsearch::io::internal
