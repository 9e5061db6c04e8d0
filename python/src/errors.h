// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// C++ exceptions → Python: tqsearch::Error and faiss::FaissException become tqsearch.Error (a RuntimeError
/// subclass) carrying the C++ message; std::bad_alloc → MemoryError, std::out_of_range → IndexError and
/// std::invalid_argument → ValueError (pybind11's defaults).

#include <pybind11/pybind11.h>

namespace tqsearch::python {

void bind_errors(pybind11::module_& m);

}  // namespace tqsearch::python
