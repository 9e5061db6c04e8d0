// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// NumPy .npy files (format versions 1.0, 2.0 and 3.0; https://numpy.org/doc/stable/reference/generated/
/// numpy.lib.format.html): magic "\x93NUMPY", version, header length (uint16 in 1.0, uint32 in 2.0/3.0), a Python
/// dict literal {'descr': ..., 'fortran_order': ..., 'shape': ...}, then the C-order data.
///
/// Supported dtypes: '<f4' float32 and '<f2' float16 (vectors; float16 widens to float32), '<i4' int32 and
/// '<i8' int64 (ids, ground truth), '|u1' uint8 and '|i1' int8. Shapes (n, d) and (n,) (read as (n, 1)).
/// Rejected with a clear message: Fortran order, big-endian or other dtypes (float64: convert with
/// .astype(np.float32)), structured dtypes, 0-d and ≥ 3-d arrays, empty arrays.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tools/io/element_type.h"
#include "tools/io/matrix.h"
#include "tools/io/matrix_reader.h"

namespace tqsearch::io {

/// The parsed header of a .npy file.
struct NpyHeader {
  int major_version = 1;
  int minor_version = 0;
  ElementType type = ElementType::kFloat32;
  size_t rows = 0;
  size_t cols = 0;
  bool one_dimensional = false;  ///< shape was (n,)
  uint64_t data_offset = 0;      ///< bytes before the first element
};

/// Parse and validate the header of an .npy file given its first bytes (the whole header must be present).
/// `path` only names the file in errors.
NpyHeader parse_npy_header(const std::string& path, std::string_view bytes);

std::unique_ptr<MatrixReader> open_npy(const std::string& path);

struct NpyWriteOptions {
  /// 1, 2 or 3; 0 = 1.0 unless the header needs more than 65535 bytes (then 2.0).
  int major_version = 0;
};

/// Write m as a C-order 2-D array (shape (rows, cols)); any ElementType but float64.
void write_npy(const std::string& path, const MatrixView& m, const NpyWriteOptions& options = {});

}  // namespace tqsearch::io
