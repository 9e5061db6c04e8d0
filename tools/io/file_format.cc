// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/file_format.h"

#include <algorithm>
#include <cctype>

#include "quant/error.h"

namespace tqsearch::io {

namespace {

struct ExtensionEntry {
  std::string_view ext;
  FileFormat format;
};

constexpr ExtensionEntry kExtensions[] = {
    {".fvecs", FileFormat::kFvecs}, {".bvecs", FileFormat::kBvecs}, {".ivecs", FileFormat::kIvecs},
    {".fbin", FileFormat::kFbin},   {".u8bin", FileFormat::kU8bin}, {".i8bin", FileFormat::kI8bin},
    {".ibin", FileFormat::kIbin},   {".npy", FileFormat::kNpy},     {".hdf5", FileFormat::kHdf5},
    {".h5", FileFormat::kHdf5},
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const ExtensionEntry* match(const std::string& lowered) {
  for (const auto& e : kExtensions) {
    if (ends_with(lowered, e.ext)) return &e;
  }
  return nullptr;
}

}  // namespace

FileLocation parse_location(std::string_view path) {
  TQ_CHECK(!path.empty(), "empty file path: expected a vector file (.fvecs .bvecs .ivecs .fbin .u8bin .i8bin "
                          ".ibin .npy .hdf5 .h5)");
  FileLocation loc;
  const std::string whole(path);
  if (const ExtensionEntry* e = match(lower(whole))) {
    loc.file = whole;
    loc.format = e->format;
    return loc;
  }
  // "file.hdf5:dataset"
  const size_t colon = whole.rfind(':');
  if (colon != std::string::npos) {
    std::string file = whole.substr(0, colon);
    const ExtensionEntry* e = match(lower(file));
    if (e != nullptr && e->format == FileFormat::kHdf5) {
      loc.file = std::move(file);
      loc.dataset = whole.substr(colon + 1);
      TQ_CHECK(!loc.dataset.empty(), whole << ": empty HDF5 dataset name after ':' (expected e.g. "
                                           << loc.file << ":train)");
      loc.format = FileFormat::kHdf5;
      return loc;
    }
  }
  TQ_THROW(whole << ": unrecognized file extension; supported: .fvecs .bvecs .ivecs (TEXMEX), .fbin .u8bin "
                    ".i8bin .ibin (big-ann), .npy (NumPy), .hdf5 .h5 (ann-benchmarks, optionally file.hdf5:dataset)");
}

std::string_view file_format_name(FileFormat f) {
  switch (f) {
    case FileFormat::kFvecs: return "fvecs";
    case FileFormat::kBvecs: return "bvecs";
    case FileFormat::kIvecs: return "ivecs";
    case FileFormat::kFbin: return "fbin";
    case FileFormat::kU8bin: return "u8bin";
    case FileFormat::kI8bin: return "i8bin";
    case FileFormat::kIbin: return "ibin";
    case FileFormat::kNpy: return "npy";
    case FileFormat::kHdf5: return "hdf5";
  }
  return "unknown";
}

bool has_fixed_element_type(FileFormat f) { return f != FileFormat::kNpy && f != FileFormat::kHdf5; }

ElementType fixed_element_type(FileFormat f) {
  switch (f) {
    case FileFormat::kFvecs:
    case FileFormat::kFbin: return ElementType::kFloat32;
    case FileFormat::kBvecs:
    case FileFormat::kU8bin: return ElementType::kUint8;
    case FileFormat::kI8bin: return ElementType::kInt8;
    case FileFormat::kIvecs:
    case FileFormat::kIbin: return ElementType::kInt32;
    case FileFormat::kNpy:
    case FileFormat::kHdf5: break;
  }
  TQ_THROW("file format " << file_format_name(f) << " stores its element type in the file, not in the extension");
}

bool hdf5_supported() {
#ifdef TQSEARCH_HAVE_HDF5
  return true;
#else
  return false;
#endif
}

}  // namespace tqsearch::io
