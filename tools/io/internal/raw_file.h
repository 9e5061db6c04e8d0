// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// POSIX file handles for the vector-file readers and writers: positioned reads that never load a whole file,
/// and writes that go to a temporary name and are renamed into place on commit (no half-written outputs).

#include <cstddef>
#include <cstdint>
#include <string>

namespace tqsearch::io::internal {

/// Read-only file opened once; pread() at any offset. Errors name the file.
class RawFileReader {
 public:
  explicit RawFileReader(const std::string& path);
  ~RawFileReader();
  RawFileReader(const RawFileReader&) = delete;
  RawFileReader& operator=(const RawFileReader&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  /// Read exactly n bytes at offset; throws (naming file, offset and byte count) when the file ends early.
  void read_at(uint64_t offset, size_t n, void* out) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/// Writes `path` through "<path>.tmp-<pid>"; commit() flushes and renames. Destroyed uncommitted, it removes the
/// temporary file and leaves any existing `path` untouched.
class RawFileWriter {
 public:
  explicit RawFileWriter(const std::string& path);
  ~RawFileWriter();
  RawFileWriter(const RawFileWriter&) = delete;
  RawFileWriter& operator=(const RawFileWriter&) = delete;

  void write(const void* data, size_t n);
  void commit();

 private:
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

}  // namespace tqsearch::io::internal
