// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Write a matrix in the format its file extension names (the writers behind search --out, bench --save-gt and
/// the tests). Files are written to a temporary name and renamed into place; HDF5 adds a dataset to the file.

#include <string_view>

#include "tools/io/matrix.h"

namespace tqsearch::io {

/// Write m to path (.fvecs .bvecs .ivecs .fbin .u8bin .i8bin .ibin .npy .hdf5:dataset).
/// Integer data converts between integer types when every value fits (int64 ids → .ivecs int32); anything else
/// must match the format's element type exactly.
void write_matrix(std::string_view path, const MatrixView& m);

}  // namespace tqsearch::io
