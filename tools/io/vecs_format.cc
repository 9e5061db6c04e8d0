// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/vecs_format.h"

#include <cstring>
#include <vector>

#include "quant/error.h"
#include "tools/io/internal/raw_file.h"
#include "tools/io/internal/strided_reader.h"

namespace tqsearch::io {

namespace {
constexpr int64_t kMaxDim = int64_t(1) << 24;

void check_vecs_format(FileFormat format) {
  TQ_CHECK(format == FileFormat::kFvecs || format == FileFormat::kBvecs || format == FileFormat::kIvecs,
           "TEXMEX format expected (fvecs, bvecs, ivecs), got " << file_format_name(format));
}
}  // namespace

std::unique_ptr<MatrixReader> open_vecs(const std::string& path, FileFormat format) {
  check_vecs_format(format);
  const ElementType type = fixed_element_type(format);
  const size_t es = element_size(type);
  auto file = std::make_unique<internal::RawFileReader>(path);
  const uint64_t size = file->size();
  TQ_CHECK(size > 0, path << ": file is empty (0 bytes); expected ." << file_format_name(format)
                          << " rows of int32 d followed by d " << element_type_name(type) << " values");
  TQ_CHECK(size >= 4, path << ": file is " << size << " bytes, too short for the int32 dimension header of row 0");
  int32_t d = 0;
  file->read_at(0, 4, &d);
  TQ_CHECK(d >= 1 && d <= kMaxDim, path << ": row 0 (byte offset 0): dimension header is " << d
                                        << ", expected 1.." << kMaxDim << " (is this really a ."
                                        << file_format_name(format) << " file?)");
  const uint64_t row_bytes = 4 + uint64_t(d) * es;
  const uint64_t rows = size / row_bytes;
  const uint64_t tail = size % row_bytes;
  TQ_CHECK(tail == 0, path << ": file size " << size << " bytes is not a whole number of rows of " << row_bytes
                           << " bytes (4-byte header + " << d << " × " << element_type_name(type)
                           << ", d from row 0): row " << rows << " at byte offset " << rows * row_bytes
                           << " is truncated (" << tail << " of " << row_bytes << " bytes present)");
  return std::make_unique<internal::StridedReader>(std::move(file), format, type, size_t(rows), size_t(d),
                                                   internal::StridedLayout{0, true});
}

void write_vecs(const std::string& path, FileFormat format, const MatrixView& m) {
  check_vecs_format(format);
  const ElementType type = fixed_element_type(format);
  TQ_CHECK(m.type == type, path << ": ." << file_format_name(format) << " stores " << element_type_name(type)
                                << ", got " << element_type_name(m.type) << " data");
  TQ_CHECK(m.rows >= 1, path << ": nothing to write (0 rows); ." << file_format_name(format)
                             << " cannot represent an empty matrix");
  TQ_CHECK(m.cols >= 1 && int64_t(m.cols) <= kMaxDim,
           path << ": dimension " << m.cols << " out of range 1.." << kMaxDim);
  TQ_CHECK(m.data != nullptr, path << ": null data pointer");
  const size_t es = element_size(type);
  const size_t payload = m.cols * es;
  const int32_t d = int32_t(m.cols);
  // Buffer many rows per write call.
  const size_t rows_per_piece = std::max<size_t>(1, (4u << 20) / (payload + 4));
  std::vector<char> buf;
  internal::RawFileWriter out(path);
  const auto* src = static_cast<const char*>(m.data);
  for (size_t r0 = 0; r0 < m.rows; r0 += rows_per_piece) {
    const size_t n = std::min(rows_per_piece, m.rows - r0);
    buf.resize(n * (payload + 4));
    for (size_t i = 0; i < n; ++i) {
      char* row = buf.data() + i * (payload + 4);
      std::memcpy(row, &d, 4);
      std::memcpy(row + 4, src + (r0 + i) * payload, payload);
    }
    out.write(buf.data(), buf.size());
  }
  out.commit();
}

}  // namespace tqsearch::io
