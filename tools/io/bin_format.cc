// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/bin_format.h"

#include "quant/error.h"
#include "tools/io/internal/raw_file.h"
#include "tools/io/internal/strided_reader.h"

namespace tqsearch::io {

namespace {
void check_bin_format(FileFormat format) {
  TQ_CHECK(format == FileFormat::kFbin || format == FileFormat::kU8bin || format == FileFormat::kI8bin ||
               format == FileFormat::kIbin,
           "big-ann format expected (fbin, u8bin, i8bin, ibin), got " << file_format_name(format));
}
}  // namespace

std::unique_ptr<MatrixReader> open_bin(const std::string& path, FileFormat format) {
  check_bin_format(format);
  const ElementType type = fixed_element_type(format);
  const uint64_t es = element_size(type);
  auto file = std::make_unique<internal::RawFileReader>(path);
  const uint64_t size = file->size();
  TQ_CHECK(size > 0, path << ": file is empty (0 bytes); expected an 8-byte header (uint32 n, uint32 d) followed by "
                             "n·d " << element_type_name(type) << " values");
  TQ_CHECK(size >= 8, path << ": file is " << size << " bytes, too short for the 8-byte header (uint32 n, uint32 d)");
  uint32_t header[2];
  file->read_at(0, 8, header);
  const uint64_t n = header[0], d = header[1];
  TQ_CHECK(n >= 1, path << ": header says n = 0 rows; expected at least one vector");
  TQ_CHECK(d >= 1, path << ": header says d = 0; expected a dimension ≥ 1");
  const uint64_t row_bytes = d * es;
  const uint64_t expected = 8 + n * row_bytes;
  if (size < expected) {
    const uint64_t whole = (size - 8) / row_bytes;
    TQ_THROW(path << ": truncated: header says n = " << n << ", d = " << d << " (" << element_type_name(type)
                  << ") = " << expected << " bytes, file has " << size << "; row " << whole << " at byte offset "
                  << 8 + whole * row_bytes << " is incomplete");
  }
  TQ_CHECK(size == expected, path << ": header says n = " << n << ", d = " << d << " (" << element_type_name(type)
                                  << ") = " << expected << " bytes, but the file has " << size - expected
                                  << " extra bytes after row " << n - 1 << " (wrong format or header?)");
  return std::make_unique<internal::StridedReader>(std::move(file), format, type, size_t(n), size_t(d),
                                                   internal::StridedLayout{8, false});
}

void write_bin(const std::string& path, FileFormat format, const MatrixView& m) {
  check_bin_format(format);
  const ElementType type = fixed_element_type(format);
  TQ_CHECK(m.type == type, path << ": ." << file_format_name(format) << " stores " << element_type_name(type)
                                << ", got " << element_type_name(m.type) << " data");
  TQ_CHECK(m.rows >= 1 && m.rows <= 0xffffffffull,
           path << ": row count " << m.rows << " out of range 1..4294967295 for the uint32 header");
  TQ_CHECK(m.cols >= 1 && m.cols <= 0xffffffffull,
           path << ": dimension " << m.cols << " out of range 1..4294967295 for the uint32 header");
  TQ_CHECK(m.data != nullptr, path << ": null data pointer");
  const uint32_t header[2] = {uint32_t(m.rows), uint32_t(m.cols)};
  internal::RawFileWriter out(path);
  out.write(header, 8);
  out.write(m.data, m.rows * m.cols * element_size(type));
  out.commit();
}

}  // namespace tqsearch::io
