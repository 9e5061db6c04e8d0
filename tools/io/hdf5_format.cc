// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/hdf5_format.h"

#include <algorithm>
#include <sys/stat.h>

#include "quant/error.h"

#ifdef TQSEARCH_HAVE_HDF5
#include <hdf5.h>
#endif

namespace tqsearch::io {

#ifndef TQSEARCH_HAVE_HDF5

namespace {
[[noreturn]] void no_hdf5(const std::string& file) {
  TQ_THROW(file << ": this tqsearch was built without HDF5 support (install Debian's libhdf5-dev and "
                   "reconfigure), so .hdf5/.h5 files cannot be read or written");
}
}  // namespace

std::unique_ptr<MatrixReader> open_hdf5(const std::string& file, std::string_view, std::string_view) {
  no_hdf5(file);
}
std::vector<std::string> hdf5_dataset_names(const std::string& file) { no_hdf5(file); }
std::optional<std::string> hdf5_file_attribute(const std::string& file, const std::string&) { no_hdf5(file); }
void write_hdf5(const std::string& file, const std::string&, const MatrixView&) { no_hdf5(file); }
void write_hdf5_file_attribute(const std::string& file, const std::string&, const std::string&) { no_hdf5(file); }

#else  // TQSEARCH_HAVE_HDF5

namespace {

/// Owns one HDF5 identifier.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  void reset() {
    if (id_ >= 0 && closer_ != nullptr) {
      H5E_BEGIN_TRY { closer_(id_); }
      H5E_END_TRY;
    }
    id_ = -1;
  }
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Handle open_file(const std::string& file, bool write) {
  if (!write) {
    struct stat st {};
    TQ_CHECK(::stat(file.c_str(), &st) == 0, file << ": cannot open for reading: no such file");
    TQ_CHECK(st.st_size > 0, file << ": file is empty (0 bytes); expected an HDF5 file");
  }
  hid_t id = -1;
  H5E_BEGIN_TRY {
    if (write && !file_exists(file)) {
      id = H5Fcreate(file.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    } else {
      id = H5Fopen(file.c_str(), write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    }
  }
  H5E_END_TRY;
  if (id < 0) {
    H5E_BEGIN_TRY { id = H5Fis_hdf5(file.c_str()); }
    H5E_END_TRY;
    TQ_CHECK(id > 0, file << ": not an HDF5 file (bad signature; expected an ann-benchmarks .hdf5 file)");
    TQ_THROW(file << ": cannot open HDF5 file for " << (write ? "writing" : "reading"));
  }
  return Handle(id, H5Fclose);
}

std::vector<std::string> dataset_names(hid_t file) {
  // Portable across HDF5 1.10 and 1.12+: list links by index, keep those that open as datasets.
  std::vector<std::string> names;
  H5E_BEGIN_TRY {
    H5G_info_t info;
    if (H5Gget_info(file, &info) >= 0) {
      for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t len = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (len <= 0) continue;
        std::string name(size_t(len) + 1, '\0');
        H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
        name.resize(size_t(len));
        const hid_t obj = H5Oopen(file, name.c_str(), H5P_DEFAULT);
        if (obj >= 0) {
          if (H5Iget_type(obj) == H5I_DATASET) names.push_back(name);
          H5Oclose(obj);
        }
      }
    }
  }
  H5E_END_TRY;
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

/// Map a stored HDF5 type to the ElementType we read it as, and the memory type to read it with.
ElementType classify(const std::string& where, hid_t type, hid_t* mem_type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) {
    if (size == 8) {
      *mem_type = H5T_NATIVE_DOUBLE;
      return ElementType::kFloat64;
    }
    *mem_type = H5T_NATIVE_FLOAT;
    return ElementType::kFloat32;
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1) {
      *mem_type = is_signed ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
      return is_signed ? ElementType::kInt8 : ElementType::kUint8;
    }
    if (size < 4 || (size == 4 && is_signed)) {
      *mem_type = H5T_NATIVE_INT32;
      return ElementType::kInt32;
    }
    *mem_type = H5T_NATIVE_INT64;
    return ElementType::kInt64;
  }
  TQ_THROW(where << ": unsupported HDF5 element class " << int(cls)
                 << " (expected floating-point vectors or integer ids)");
}

class Hdf5Reader final : public MatrixReader {
 public:
  Hdf5Reader(std::string where, Handle file, Handle dataset, Handle space, ElementType type, hid_t mem_type,
             size_t rows, size_t cols)
      : MatrixReader(std::move(where), FileFormat::kHdf5, type, rows, cols),
        file_(std::move(file)),
        dataset_(std::move(dataset)),
        space_(std::move(space)),
        mem_type_(mem_type) {}

  std::string describe_row(size_t row) const override { return "row " + std::to_string(row); }

 protected:
  void read_raw(size_t begin, size_t count, void* out) override {
    if (count == 0) return;
    const int rank = H5Sget_simple_extent_ndims(space_.get());
    hsize_t start[2] = {begin, 0}, n[2] = {count, cols()};
    herr_t st = -1;
    H5E_BEGIN_TRY {
      Handle mem(H5Screate_simple(rank, n, nullptr), H5Sclose);
      if (mem.valid() && H5Sselect_hyperslab(space_.get(), H5S_SELECT_SET, start, nullptr, n, nullptr) >= 0) {
        st = H5Dread(dataset_.get(), mem_type_, mem.get(), space_.get(), H5P_DEFAULT, out);
      }
    }
    H5E_END_TRY;
    TQ_CHECK(st >= 0, path() << ": HDF5 read of rows " << begin << ".." << begin + count - 1
                             << " failed (file truncated or corrupt?)");
  }

 private:
  Handle file_, dataset_, space_;
  hid_t mem_type_;
};

}  // namespace

std::vector<std::string> hdf5_dataset_names(const std::string& file) {
  Handle f = open_file(file, false);
  return dataset_names(f.get());
}

std::unique_ptr<MatrixReader> open_hdf5(const std::string& file, std::string_view dataset,
                                        std::string_view default_dataset) {
  Handle f = open_file(file, false);
  std::string name(dataset.empty() ? default_dataset : dataset);
  const std::vector<std::string> names = dataset_names(f.get());
  if (name.empty()) {
    TQ_CHECK(names.size() == 1, file << ": name the dataset as " << file << ":NAME; the file holds " << join(names));
    name = names[0];
  }
  TQ_CHECK(std::find(names.begin(), names.end(), name) != names.end(),
           file << ": no dataset '" << name << "'; the file holds " << join(names));
  const std::string where = file + ":" + name;
  hid_t id = -1;
  H5E_BEGIN_TRY { id = H5Dopen2(f.get(), name.c_str(), H5P_DEFAULT); }
  H5E_END_TRY;
  TQ_CHECK(id >= 0, where << ": cannot open dataset");
  Handle ds(id, H5Dclose);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  TQ_CHECK(space.valid(), where << ": cannot read the dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  TQ_CHECK(rank == 1 || rank == 2, where << ": dataset has " << rank << " dimensions; expected (n, d) or (n,)");
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  TQ_CHECK(dims[0] >= 1 && dims[1] >= 1, where << ": dataset is empty (shape (" << dims[0] << ", " << dims[1]
                                               << ")); expected at least one row");
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  hid_t mem_type = -1;
  const ElementType et = classify(where, type.get(), &mem_type);
  return std::make_unique<Hdf5Reader>(where, std::move(f), std::move(ds), std::move(space), et, mem_type,
                                      size_t(dims[0]), size_t(dims[1]));
}

std::optional<std::string> hdf5_file_attribute(const std::string& file, const std::string& name) {
  Handle f = open_file(file, false);
  htri_t exists = -1;
  H5E_BEGIN_TRY { exists = H5Aexists(f.get(), name.c_str()); }
  H5E_END_TRY;
  if (exists <= 0) return std::nullopt;
  Handle attr(H5Aopen(f.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  TQ_CHECK(attr.valid(), file << ": cannot open attribute '" << name << "'");
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
  std::string value;
  herr_t st = -1;
  H5E_BEGIN_TRY {
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
      char* s = nullptr;
      st = H5Aread(attr.get(), mem.get(), &s);
      if (st >= 0 && s != nullptr) {
        value = s;
        H5free_memory(s);
      }
    } else {
      const size_t n = H5Tget_size(type.get());
      std::string buf(n, '\0');
      st = H5Aread(attr.get(), type.get(), buf.data());
      value = buf.substr(0, buf.find('\0'));
    }
  }
  H5E_END_TRY;
  TQ_CHECK(st >= 0, file << ": cannot read string attribute '" << name << "'");
  return value;
}

void write_hdf5(const std::string& file, const std::string& dataset, const MatrixView& m) {
  const std::string where = file + ":" + dataset;
  TQ_CHECK(!dataset.empty(), file << ": empty HDF5 dataset name");
  TQ_CHECK(m.rows >= 1 && m.cols >= 1, where << ": nothing to write (shape (" << m.rows << ", " << m.cols << "))");
  TQ_CHECK(m.data != nullptr, where << ": null data pointer");
  hid_t mem_type = -1;
  switch (m.type) {
    case ElementType::kFloat32: mem_type = H5T_NATIVE_FLOAT; break;
    case ElementType::kUint8: mem_type = H5T_NATIVE_UINT8; break;
    case ElementType::kInt8: mem_type = H5T_NATIVE_INT8; break;
    case ElementType::kInt32: mem_type = H5T_NATIVE_INT32; break;
    case ElementType::kInt64: mem_type = H5T_NATIVE_INT64; break;
    default: TQ_THROW(where << ": cannot write " << element_type_name(m.type) << " to HDF5");
  }
  Handle f = open_file(file, true);
  const std::vector<std::string> names = dataset_names(f.get());
  TQ_CHECK(std::find(names.begin(), names.end(), dataset) == names.end(),
           where << ": dataset already exists (HDF5 writes add datasets; remove the file to start over)");
  hsize_t dims[2] = {m.rows, m.cols};
  Handle space(H5Screate_simple(2, dims, nullptr), H5Sclose);
  herr_t st = -1;
  H5E_BEGIN_TRY {
    Handle ds(H5Dcreate2(f.get(), dataset.c_str(), mem_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    if (ds.valid()) st = H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data);
  }
  H5E_END_TRY;
  TQ_CHECK(st >= 0, where << ": HDF5 write failed");
  H5E_BEGIN_TRY { st = H5Fflush(f.get(), H5F_SCOPE_GLOBAL); }
  H5E_END_TRY;
  TQ_CHECK(st >= 0, where << ": HDF5 flush failed");
}

void write_hdf5_file_attribute(const std::string& file, const std::string& name, const std::string& value) {
  Handle f = open_file(file, true);
  herr_t st = -1;
  H5E_BEGIN_TRY {
    if (H5Aexists(f.get(), name.c_str()) > 0) H5Adelete(f.get(), name.c_str());
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), value.empty() ? 1 : value.size());
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(f.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (attr.valid()) st = H5Awrite(attr.get(), type.get(), value.c_str());
  }
  H5E_END_TRY;
  TQ_CHECK(st >= 0, file << ": cannot write attribute '" << name << "'");
}

#endif  // TQSEARCH_HAVE_HDF5

}  // namespace tqsearch::io
