// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// An in-memory row-major matrix (what read-all returns) and a typed, non-owning view of one (what writers take).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tools/io/element_type.h"

namespace tqsearch::io {

/// (rows, cols) row-major matrix owning its elements.
template <class T>
struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<T> data;  ///< rows·cols elements, row-major

  T* row(size_t i) { return data.data() + i * cols; }
  const T* row(size_t i) const { return data.data() + i * cols; }
};

/// Non-owning view of (rows, cols) row-major elements of one ElementType. float16 data is passed as the raw
/// binary16 bit patterns (uint16_t).
struct MatrixView {
  const void* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
  ElementType type = ElementType::kFloat32;

  static MatrixView of(const float* x, size_t rows, size_t cols) { return {x, rows, cols, ElementType::kFloat32}; }
  static MatrixView of(const uint8_t* x, size_t rows, size_t cols) { return {x, rows, cols, ElementType::kUint8}; }
  static MatrixView of(const int8_t* x, size_t rows, size_t cols) { return {x, rows, cols, ElementType::kInt8}; }
  static MatrixView of(const int32_t* x, size_t rows, size_t cols) { return {x, rows, cols, ElementType::kInt32}; }
  static MatrixView of(const int64_t* x, size_t rows, size_t cols) { return {x, rows, cols, ElementType::kInt64}; }
  /// binary16 bit patterns
  static MatrixView of_float16(const uint16_t* x, size_t rows, size_t cols) {
    return {x, rows, cols, ElementType::kFloat16};
  }
  template <class T>
  static MatrixView of(const Matrix<T>& m) { return of(m.data.data(), m.rows, m.cols); }
};

}  // namespace tqsearch::io
