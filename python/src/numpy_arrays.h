// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// NumPy argument checking and conversion for the bindings: every array that enters C++ goes through here, so
/// every wrong dtype, shape or dimension gives the same kind of clear Python error (TypeError for dtypes,
/// ValueError for shapes), naming the argument, what it got and what is allowed.

#include <cstdint>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace tqsearch::python {

namespace py = pybind11;

using FloatRows = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using ByteRows = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

/// (n, d) float32 C-contiguous rows from any array-like. Zero-copy when `obj` already is one; floating and
/// integer dtypes are converted to float32; bool, complex, object and string dtypes raise TypeError.
/// @param name  argument name for messages ("x", "queries")
/// @param d     required number of columns (the index dimension); -1 = any
FloatRows as_float_rows(py::handle obj, const char* name, int64_t d);

/// (n,) int64 from any integer array-like (a 0-d scalar is one id). Floating dtypes raise TypeError.
/// @param n  required length, -1 = any
IdArray as_ids(py::handle obj, const char* name, int64_t n);

/// (n, code_size) uint8 codes. @param code_size required columns
ByteRows as_code_rows(py::handle obj, const char* name, int64_t code_size);

/// A new C-contiguous array of the given shape that owns a moved std::vector (no copy).
template <class T>
py::array_t<T> vector_to_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, heap->data(), owner);
}

}  // namespace tqsearch::python
