// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Element types of the matrices stored in vector files (fvecs, bin, npy, HDF5).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tqsearch::io {

/// Scalar type of one stored element. All files are little-endian.
enum class ElementType : uint8_t {
  kFloat32 = 0,
  kFloat16 = 1,  ///< IEEE 754 binary16 (NumPy '<f2'), widened to float32 when read
  kFloat64 = 2,  ///< only as an HDF5 storage type (converted to float32 by the HDF5 library)
  kUint8 = 3,
  kInt8 = 4,
  kInt32 = 5,
  kInt64 = 6,
};

/// Bytes per element (2, 4, 8 or 1).
size_t element_size(ElementType t);
/// "float32", "float16", "float64", "uint8", "int8", "int32", "int64".
std::string_view element_type_name(ElementType t);
/// Whether the type holds integers (ids and ground truth must be integers).
bool is_integer(ElementType t);
/// Whether the type holds floating-point values (which must be finite when read as vectors).
bool is_floating(ElementType t);

}  // namespace tqsearch::io
