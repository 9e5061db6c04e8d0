// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/internal/raw_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "quant/error.h"

namespace tqsearch::io::internal {

namespace {
// Linux transfers at most 0x7ffff000 bytes per read/write call.
constexpr size_t kMaxIo = size_t(1) << 30;
}  // namespace

RawFileReader::RawFileReader(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TQ_CHECK(fd_ >= 0, path << ": cannot open for reading: " << std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    TQ_THROW(path << ": cannot stat: " << std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd_);
    TQ_THROW(path << ": is a directory, expected a vector file");
  }
  size_ = uint64_t(st.st_size);
}

RawFileReader::~RawFileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void RawFileReader::read_at(uint64_t offset, size_t n, void* out) const {
  auto* p = static_cast<char*>(out);
  size_t done = 0;
  while (done < n) {
    const size_t want = std::min(n - done, kMaxIo);
    const ssize_t got = ::pread(fd_, p + done, want, off_t(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      TQ_THROW(path_ << ": read error at byte offset " << offset + done << ": " << std::strerror(errno));
    }
    TQ_CHECK(got > 0, path_ << ": unexpected end of file at byte offset " << offset + done << " (needed " << n
                            << " bytes from offset " << offset << "; file is " << size_ << " bytes)");
    done += size_t(got);
  }
}

RawFileWriter::RawFileWriter(const std::string& path)
    : path_(path), tmp_path_(path + ".tmp-" + std::to_string(::getpid())) {
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TQ_CHECK(fd_ >= 0, path << ": cannot create " << tmp_path_ << ": " << std::strerror(errno));
}

RawFileWriter::~RawFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

void RawFileWriter::write(const void* data, size_t n) {
  TQ_CHECK(fd_ >= 0, path_ << ": write after commit");
  const auto* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < n) {
    const ssize_t put = ::write(fd_, p + done, std::min(n - done, kMaxIo));
    if (put < 0) {
      if (errno == EINTR) continue;
      TQ_THROW(path_ << ": write error at byte offset " << written_ + done << ": " << std::strerror(errno));
    }
    done += size_t(put);
  }
  written_ += n;
}

void RawFileWriter::commit() {
  TQ_CHECK(fd_ >= 0, path_ << ": committed twice");
  const int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp_path_.c_str());
    TQ_THROW(path_ << ": fsync failed: " << std::strerror(err));
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp_path_.c_str());
    TQ_THROW(path_ << ": close failed: " << std::strerror(err));
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_path_.c_str());
    TQ_THROW(path_ << ": cannot rename " << tmp_path_ << " into place: " << std::strerror(err));
  }
}

}  // namespace tqsearch::io::internal
