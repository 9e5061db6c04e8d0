// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// TEXMEX vector files (http://corpus-texmex.irisa.fr/): each row is int32 d followed by d elements —
/// .fvecs float32, .bvecs uint8, .ivecs int32. No file header; every row must have the same d.

#include <memory>
#include <string>

#include "tools/io/file_format.h"
#include "tools/io/matrix.h"
#include "tools/io/matrix_reader.h"

namespace tqsearch::io {

/// Open for streaming reads. Checks at open: non-empty, a plausible d in row 0 (1..2^24), file size a whole
/// number of rows (else names the truncated row and its offset). Each row's d is checked when it is read.
/// @param format  kFvecs, kBvecs or kIvecs
std::unique_ptr<MatrixReader> open_vecs(const std::string& path, FileFormat format);

/// Write m (rows ≥ 1, 1 ≤ cols < 2^31) as a TEXMEX file; m.type must be the format's type.
void write_vecs(const std::string& path, FileFormat format, const MatrixView& m);

}  // namespace tqsearch::io
