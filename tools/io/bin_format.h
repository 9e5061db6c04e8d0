// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// big-ann-benchmarks binary files (https://big-ann-benchmarks.com): uint32 n, uint32 d, then n·d elements,
/// row-major — .fbin float32, .u8bin uint8, .i8bin int8, .ibin int32.

#include <memory>
#include <string>

#include "tools/io/file_format.h"
#include "tools/io/matrix.h"
#include "tools/io/matrix_reader.h"

namespace tqsearch::io {

/// Open for streaming reads. Checks at open: the 8-byte header is present, n ≥ 1, d ≥ 1, and the file holds
/// exactly 8 + n·d·element-size bytes (a short file names the first incomplete row).
/// @param format  kFbin, kU8bin, kI8bin or kIbin
std::unique_ptr<MatrixReader> open_bin(const std::string& path, FileFormat format);

/// Write m (1 ≤ rows, cols < 2^32) as a big-ann file; m.type must be the format's type.
void write_bin(const std::string& path, FileFormat format, const MatrixView& m);

}  // namespace tqsearch::io
