// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "io_bindings.h"

#include <cstring>
#include <filesystem>
#include <string>

#include <faiss/impl/io.h>
#include <pybind11/stl/filesystem.h>

#include "index/index_io.h"
#include "numpy_arrays.h"
#include "quant/error.h"

#ifdef TQSEARCH_PY_HAVE_IO
#include "tools/io/file_format.h"
#include "tools/io/matrix_reader.h"
#include "tools/io/matrix_writer.h"
#endif

namespace tqsearch::python {

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

void bind_index_io(py::module_& m) {
  m.def(
      "write_index",
      [](const faiss::Index& index, const std::filesystem::path& path) {
        const std::string p = path.string();
        py::gil_scoped_release release;
        tqsearch::write_index(&index, p.c_str());
      },
      "index"_a, "path"_a,
      "Save an index (tqsearch or FAISS type) to a file, atomically (temporary file + fsync + rename). Plain FAISS "
      "indexes are written in FAISS's format; indexes holding TurboQuant parts in tqsearch's checksummed format.");
  m.def(
      "read_index",
      [](const std::filesystem::path& path) {
        const std::string p = path.string();
        std::unique_ptr<faiss::Index> index;
        {
          py::gil_scoped_release release;
          index = tqsearch::read_index(p.c_str());
        }
        return index;
      },
      "path"_a,
      "Load an index written by write_index (or by faiss.write_index). Returns the most specific class. Truncated, "
      "corrupt or unknown files raise tqsearch.Error.");
  m.def(
      "serialize_index",
      [](const faiss::Index& index) {
        faiss::VectorIOWriter w;
        {
          py::gil_scoped_release release;
          tqsearch::write_index(&index, &w);
        }
        const py::ssize_t n = py::ssize_t(w.data.size());
        return vector_to_array<uint8_t>(std::move(w.data), {n});
      },
      "index"_a, "The bytes write_index would write, as a (nbytes,) uint8 array.");
  m.def(
      "deserialize_index",
      [](py::handle data) {
        py::array a = py::module_::import("numpy").attr("frombuffer")(data, "uint8");
        ByteRows rows = ByteRows::ensure(a.attr("reshape")(1, -1));
        faiss::VectorIOReader r;
        r.data.resize(size_t(rows.size()));
        if (rows.size() > 0) std::memcpy(r.data.data(), rows.data(), size_t(rows.size()));
        std::unique_ptr<faiss::Index> index;
        {
          py::gil_scoped_release release;
          index = tqsearch::read_index(&r);
        }
        return index;
      },
      "data"_a, "Inverse of serialize_index: bytes (uint8 array, bytes or bytearray) → index.");
}

#ifdef TQSEARCH_PY_HAVE_IO

template <class T>
py::array_t<T> matrix_to_array(io::Matrix<T>&& m) {
  const auto rows = py::ssize_t(m.rows), cols = py::ssize_t(m.cols);
  return vector_to_array<T>(std::move(m.data), {rows, cols});
}

void bind_file_io(py::module_& m) {
  m.def(
      "read_vectors",
      [](const std::filesystem::path& path, const std::string& dataset) {
        io::Matrix<float> mat;
        {
          py::gil_scoped_release release;
          mat = io::read_float_matrix(path.string(), dataset);
        }
        return matrix_to_array(std::move(mat));
      },
      "path"_a, "dataset"_a = "",
      R"doc(Read a whole vector file as (n, d) float32.

Formats by extension: .fvecs .bvecs (TEXMEX), .fbin .u8bin .i8bin (big-ann-benchmarks), .npy (float32/float16,
C order), .hdf5/.h5 (ann-benchmarks; dataset 'train'/'test' or 'file.hdf5:name'). Integer files are widened
exactly. NaN/Inf values, truncated files and wrong per-row dimensions raise tqsearch.Error naming the file and
the row.)doc");
  m.def(
      "read_ids",
      [](const std::filesystem::path& path, const std::string& dataset) {
        io::Matrix<int64_t> mat;
        {
          py::gil_scoped_release release;
          mat = io::read_int_matrix(path.string(), dataset);
        }
        return matrix_to_array(std::move(mat));
      },
      "path"_a, "dataset"_a = "",
      "Read a whole integer file (.ivecs, .ibin, .bvecs, .u8bin, int .npy, HDF5 'neighbors') as (n, k) int64 "
      "(ground truth, ids). Floating-point files raise tqsearch.Error.");
  m.def(
      "write_vectors",
      [](const std::filesystem::path& path, py::handle x) {
        py::array a = py::module_::import("numpy").attr("ascontiguousarray")(x);
        if (a.ndim() != 2) {
          throw py::value_error("x must be a 2-D array (n, d), got " + std::to_string(a.ndim()) + " dimensions");
        }
        const size_t rows = size_t(a.shape(0)), cols = size_t(a.shape(1));
        io::MatrixView v;
        const char kind = a.dtype().kind();
        const auto size = a.dtype().itemsize();
        if (kind == 'f' && size == 4) {
          v = io::MatrixView::of(static_cast<const float*>(a.data()), rows, cols);
        } else if (kind == 'f' && size == 2) {
          v = io::MatrixView::of_float16(static_cast<const uint16_t*>(a.data()), rows, cols);
        } else if (kind == 'u' && size == 1) {
          v = io::MatrixView::of(static_cast<const uint8_t*>(a.data()), rows, cols);
        } else if (kind == 'i' && size == 1) {
          v = io::MatrixView::of(static_cast<const int8_t*>(a.data()), rows, cols);
        } else if (kind == 'i' && size == 4) {
          v = io::MatrixView::of(static_cast<const int32_t*>(a.data()), rows, cols);
        } else if (kind == 'i' && size == 8) {
          v = io::MatrixView::of(static_cast<const int64_t*>(a.data()), rows, cols);
        } else {
          throw py::type_error("write_vectors: dtype " + py::str(a.dtype()).cast<std::string>() +
                               " is not supported (float32, float16, uint8, int8, int32, int64)");
        }
        const std::string p = path.string();
        py::gil_scoped_release release;
        io::write_matrix(p, v);
      },
      "path"_a, "x"_a,
      "Write a 2-D array in the format the extension names (.fvecs .bvecs .ivecs .fbin .u8bin .i8bin .ibin .npy "
      ".hdf5:dataset); the dtype must match the format (int64 ids are narrowed to int32 for .ivecs when they fit).");
  m.def("hdf5_supported", &io::hdf5_supported, "Whether this build reads and writes HDF5 files.");
}

#endif  // TQSEARCH_PY_HAVE_IO

}  // namespace

void bind_io(py::module_& m) {
  bind_index_io(m);
#ifdef TQSEARCH_PY_HAVE_IO
  bind_file_io(m);
#endif
}

}  // namespace tqsearch::python
