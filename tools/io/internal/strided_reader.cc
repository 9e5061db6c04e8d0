// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/internal/strided_reader.h"

#include <algorithm>
#include <cstring>

#include "quant/error.h"

namespace tqsearch::io::internal {

StridedReader::StridedReader(std::unique_ptr<RawFileReader> file, FileFormat format, ElementType type, size_t rows,
                             size_t cols, StridedLayout layout)
    : MatrixReader(file->path(), format, type, rows, cols), file_(std::move(file)), layout_(layout) {
  payload_bytes_ = uint64_t(cols) * element_size(type);
  row_bytes_ = payload_bytes_ + (layout.row_dim_prefix ? 4 : 0);
}

std::string StridedReader::describe_row(size_t row) const {
  return "row " + std::to_string(row) + " (byte offset " + std::to_string(row_offset(row)) + ")";
}

void StridedReader::read_raw(size_t begin, size_t count, void* out) {
  if (count == 0) return;
  if (!layout_.row_dim_prefix) {
    file_->read_at(row_offset(begin), size_t(count * payload_bytes_), out);
    return;
  }
  // TEXMEX: read whole rows in pieces of ~8 MiB, check every dimension header, copy payloads.
  const size_t rows_per_piece = std::max<size_t>(1, size_t((8u << 20) / row_bytes_));
  scratch_.resize(size_t(std::min(count, rows_per_piece) * row_bytes_));
  auto* dst = static_cast<char*>(out);
  for (size_t done = 0; done < count;) {
    const size_t n = std::min(count - done, rows_per_piece);
    file_->read_at(row_offset(begin + done), size_t(n * row_bytes_), scratch_.data());
    for (size_t i = 0; i < n; ++i) {
      const char* row = scratch_.data() + i * row_bytes_;
      int32_t dim;
      std::memcpy(&dim, row, 4);
      TQ_CHECK(uint64_t(int64_t(dim)) == cols(),
               path() << ": " << describe_row(begin + done + i) << ": dimension header says " << dim
                      << ", expected " << cols() << " (the dimension of row 0); every ." << file_format_name(format())
                      << " row must have the same dimension");
      std::memcpy(dst + (done + i) * payload_bytes_, row + 4, size_t(payload_bytes_));
    }
    done += n;
  }
}

}  // namespace tqsearch::io::internal
