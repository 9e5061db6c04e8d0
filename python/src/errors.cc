// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "errors.h"

#include <faiss/impl/FaissException.h>

#include "quant/error.h"

namespace tqsearch::python {

namespace py = pybind11;

void bind_errors(py::module_& m) {
  // The exception type lives as long as the module (and the interpreter): a plain static handle is enough.
  static py::handle error_type;
  error_type = py::register_exception<tqsearch::Error>(m, "Error", PyExc_RuntimeError).ptr();
  m.attr("Error").attr("__doc__") =
      "Raised for invalid arguments, malformed files and unsupported configurations; the message is the C++ "
      "library's (what was wrong, the value, what is allowed). FAISS errors from wrapper indexes are raised as "
      "this type too. Subclass of RuntimeError.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const faiss::FaissException& e) {
      py::set_error(error_type, e.what());
    }
  });
}

}  // namespace tqsearch::python
