// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Python functions for files: write_index / read_index / serialize_index / deserialize_index (index/index_io.h)
/// and, when tools/io is built, the vector file readers and writer (read_vectors, read_ids, write_vectors).

#include <pybind11/pybind11.h>

namespace tqsearch::python {

void bind_io(pybind11::module_& m);

}  // namespace tqsearch::python
