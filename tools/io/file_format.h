// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The vector file formats tqsearch reads and writes, recognized by file name extension.
///
/// | extension          | layout                                                            | element |
/// |--------------------|-------------------------------------------------------------------|---------|
/// | .fvecs .bvecs .ivecs | TEXMEX: per row int32 d, then d elements                        | f32 u8 i32 |
/// | .fbin .u8bin .i8bin .ibin | big-ann-benchmarks: uint32 n, uint32 d, then n·d elements  | f32 u8 i8 i32 |
/// | .npy               | NumPy format 1.0/2.0/3.0, C order, '<f4' '<f2' (vectors), '<i4' '<i8' (ids) | |
/// | .hdf5 .h5          | ann-benchmarks: datasets train/test/neighbors/distances; `file.hdf5:name` picks one | |

#include <string>
#include <string_view>

#include "tools/io/element_type.h"

namespace tqsearch::io {

enum class FileFormat : uint8_t {
  kFvecs, kBvecs, kIvecs,
  kFbin, kU8bin, kI8bin, kIbin,
  kNpy,
  kHdf5,
};

/// A path as given by the user, split into the file and (HDF5 only) the dataset after the last ':'.
struct FileLocation {
  std::string file;     ///< path of the file on disk
  std::string dataset;  ///< HDF5 dataset name; empty = not given (the caller picks a default)
  FileFormat format = FileFormat::kFvecs;
};

/// Recognize the format from the extension (case-insensitive). For HDF5, "data.hdf5:test" names dataset "test".
/// Throws tqsearch::Error naming the path and listing the supported extensions when none matches.
FileLocation parse_location(std::string_view path);

/// "fvecs", "bvecs", …, "npy", "hdf5".
std::string_view file_format_name(FileFormat f);

/// The element type a fixed-type format stores (fvecs → float32, u8bin → uint8, …).
/// npy and HDF5 carry their type in the file: throws for them.
ElementType fixed_element_type(FileFormat f);

/// Whether the format has one element type only (all but npy and HDF5).
bool has_fixed_element_type(FileFormat f);

/// Whether this build can read and write HDF5 (libhdf5 found at configure time).
bool hdf5_supported();

}  // namespace tqsearch::io
