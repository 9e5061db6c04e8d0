// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/matrix_writer.h"

#include <limits>
#include <vector>

#include "quant/error.h"
#include "tools/io/bin_format.h"
#include "tools/io/file_format.h"
#include "tools/io/hdf5_format.h"
#include "tools/io/internal/element_convert.h"
#include "tools/io/npy_format.h"
#include "tools/io/vecs_format.h"

namespace tqsearch::io {

namespace {

/// Integer m converted to `to`, every value range-checked. Keeps the storage alive in `store`.
MatrixView narrow_integers(const std::string& path, const MatrixView& m, ElementType to, std::vector<char>* store) {
  const size_t n = m.rows * m.cols;
  std::vector<int64_t> wide(n);
  internal::convert_to_int64(m.type, m.data, n, wide.data());
  int64_t lo = 0, hi = 0;
  switch (to) {
    case ElementType::kUint8: lo = 0, hi = 255; break;
    case ElementType::kInt8: lo = -128, hi = 127; break;
    case ElementType::kInt32: lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max(); break;
    case ElementType::kInt64: lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max(); break;
    default: TQ_THROW(path << ": cannot convert " << element_type_name(m.type) << " to " << element_type_name(to));
  }
  store->resize(n * element_size(to));
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = wide[i];
    TQ_CHECK(v >= lo && v <= hi, path << ": value " << v << " at row " << i / m.cols << ", column " << i % m.cols
                                      << " does not fit the file's " << element_type_name(to) << " elements");
    switch (to) {
      case ElementType::kUint8: reinterpret_cast<uint8_t*>(store->data())[i] = uint8_t(v); break;
      case ElementType::kInt8: reinterpret_cast<int8_t*>(store->data())[i] = int8_t(v); break;
      case ElementType::kInt32: reinterpret_cast<int32_t*>(store->data())[i] = int32_t(v); break;
      default: reinterpret_cast<int64_t*>(store->data())[i] = v; break;
    }
  }
  return {store->data(), m.rows, m.cols, to};
}

}  // namespace

void write_matrix(std::string_view path, const MatrixView& m) {
  const FileLocation loc = parse_location(path);
  MatrixView view = m;
  std::vector<char> store;
  if (has_fixed_element_type(loc.format)) {
    const ElementType want = fixed_element_type(loc.format);
    if (view.type != want && is_integer(view.type) && is_integer(want) && view.data != nullptr) {
      view = narrow_integers(loc.file, view, want, &store);
    }
  }
  switch (loc.format) {
    case FileFormat::kFvecs:
    case FileFormat::kBvecs:
    case FileFormat::kIvecs: write_vecs(loc.file, loc.format, view); return;
    case FileFormat::kFbin:
    case FileFormat::kU8bin:
    case FileFormat::kI8bin:
    case FileFormat::kIbin: write_bin(loc.file, loc.format, view); return;
    case FileFormat::kNpy: write_npy(loc.file, view); return;
    case FileFormat::kHdf5:
      TQ_CHECK(!loc.dataset.empty(), loc.file << ": name the HDF5 dataset to write as " << loc.file << ":NAME");
      write_hdf5(loc.file, loc.dataset, view);
      return;
  }
}

}  // namespace tqsearch::io
