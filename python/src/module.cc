// Copyright tqsearch authors. SPDX-License-Identifier: MIT
/// @file
/// The extension module tqsearch._core: FAISS-shaped Python API over tqsearch (imported by tqsearch/__init__.py).

#include <omp.h>

#include <pybind11/pybind11.h>

#include "errors.h"
#include "index_bindings.h"
#include "io_bindings.h"
#include "quant/simd_level.h"

namespace py = pybind11;
using namespace pybind11::literals;

PYBIND11_MODULE(_core, m) {
  m.doc() = "tqsearch: TurboQuant vector search (C++ extension; use the tqsearch package).";
  m.attr("__version__") = TQSEARCH_VERSION;
  m.attr("METRIC_INNER_PRODUCT") = 0;
  m.attr("METRIC_L2") = 1;
#ifdef TQSEARCH_PY_HAVE_IO
  m.attr("HAVE_FILE_IO") = true;
#else
  m.attr("HAVE_FILE_IO") = false;
#endif

  tqsearch::python::bind_errors(m);
  tqsearch::python::bind_indexes(m);
  tqsearch::python::bind_io(m);

  m.def(
      "simd_level", [] { return std::string(tqsearch::simd_level_name(tqsearch::simd_level())); },
      "SIMD kernel level the scans use on this machine ('scalar', 'avx2' or 'avx512').");
  m.def(
      "omp_set_num_threads",
      [](int n) {
        if (n < 1) throw py::value_error("number of threads must be >= 1, got " + std::to_string(n));
        omp_set_num_threads(n);
      },
      "n"_a,
      "Threads used by add/search of tqsearch indexes (this module's OpenMP runtime: faiss.omp_set_num_threads "
      "does not change it, and this does not change FAISS's).");
  m.def("omp_get_max_threads", [] { return omp_get_max_threads(); }, "Threads tqsearch add/search will use.");
}
