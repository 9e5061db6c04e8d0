// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Python classes for indexes: Index (any faiss::Index), IndexTurboQuant, IndexIDMap / IndexIDMap2,
/// IndexRefine / IndexRefineFlat, IndexHNSW, IndexPreTransform; plus index_factory.

#include <pybind11/pybind11.h>

namespace tqsearch::python {

void bind_indexes(pybind11::module_& m);

}  // namespace tqsearch::python
