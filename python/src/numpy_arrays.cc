// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "numpy_arrays.h"

#include <sstream>

namespace tqsearch::python {

namespace {

py::array to_array(py::handle obj, const char* name) {
  if (obj.is_none()) throw py::type_error(std::string(name) + " must be a numpy array, got None");
  return py::module_::import("numpy").attr("asarray")(obj);
}

std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  os << (a.ndim() == 1 ? ",)" : ")");
  return os.str();
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

char kind_of(const py::array& a) { return a.dtype().kind(); }

}  // namespace

FloatRows as_float_rows(py::handle obj, const char* name, int64_t d) {
  py::array a = to_array(obj, name);
  const char kind = kind_of(a);
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    throw py::type_error(std::string(name) + " must hold float32 values (other float and integer dtypes are "
                         "converted), got dtype " + dtype_str(a));
  }
  if (a.ndim() != 2) {
    std::ostringstream os;
    os << name << " must be a 2-D array of shape (n, " << (d >= 0 ? std::to_string(d) : std::string("d"))
       << "), got shape " << shape_str(a);
    if (a.ndim() == 1) os << " (use x.reshape(1, -1) for a single vector)";
    throw py::value_error(os.str());
  }
  if (d >= 0 && a.shape(1) != d) {
    std::ostringstream os;
    os << name << " has " << a.shape(1) << " columns but the index has dimension d = " << d << " (shape "
       << shape_str(a) << ")";
    throw py::value_error(os.str());
  }
  return FloatRows::ensure(a);
}

IdArray as_ids(py::handle obj, const char* name, int64_t n) {
  py::array a = to_array(obj, name);
  const char kind = kind_of(a);
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(std::string(name) + " must hold integer ids (int64), got dtype " + dtype_str(a));
  }
  if (a.ndim() == 0) a = a.attr("reshape")(1);
  if (a.ndim() != 1) {
    throw py::value_error(std::string(name) + " must be a 1-D array of ids, got shape " + shape_str(a));
  }
  if (n >= 0 && a.shape(0) != n) {
    std::ostringstream os;
    os << name << " has " << a.shape(0) << " ids but there are " << n << " vectors";
    throw py::value_error(os.str());
  }
  if (kind == 'u' && a.dtype().itemsize() == 8) {
    // uint64 ids above INT64_MAX would wrap: check before converting.
    py::object big = a.attr("max")();
    if (a.size() > 0 && big.cast<uint64_t>() > uint64_t(INT64_MAX)) {
      throw py::value_error(std::string(name) + " has an id above 2^63-1, which int64 ids cannot hold");
    }
  }
  return IdArray::ensure(a);
}

ByteRows as_code_rows(py::handle obj, const char* name, int64_t code_size) {
  py::array a = to_array(obj, name);
  if (!(kind_of(a) == 'u' && a.dtype().itemsize() == 1)) {
    throw py::type_error(std::string(name) + " must be a uint8 array of codes, got dtype " + dtype_str(a));
  }
  if (a.ndim() != 2 || a.shape(1) != code_size) {
    std::ostringstream os;
    os << name << " must have shape (n, " << code_size << ") (code_size bytes per vector), got shape "
       << shape_str(a);
    throw py::value_error(os.str());
  }
  return ByteRows::ensure(a);
}

}  // namespace tqsearch::python
