// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/index_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <typeinfo>

#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>

#include "index/internal/byte_stream.h"
#include "index/internal/index_io_registry.h"
#include "quant/error.h"

namespace tqsearch {

namespace {

/// IOWriter over a FILE*; short writes are reported through the return value (StreamWriter and FAISS check it).
struct FileWriter : faiss::IOWriter {
  FILE* f;
  FileWriter(FILE* file, const std::string& nm) : f(file) { name = nm; }
  size_t operator()(const void* ptr, size_t size, size_t nitems) override { return std::fwrite(ptr, size, nitems, f); }
};

struct FileReader : faiss::IOReader {
  FILE* f;
  FileReader(FILE* file, const std::string& nm) : f(file) { name = nm; }
  size_t operator()(void* ptr, size_t size, size_t nitems) override { return std::fread(ptr, size, nitems, f); }
};

std::string errno_text() { return std::strerror(errno); }

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void write_index(const faiss::Index* index, faiss::IOWriter* writer) {
  TQ_CHECK(index != nullptr, "write_index: index is null");
  TQ_CHECK(writer != nullptr, "write_index: writer is null");
  const internal::IndexIoEntry* e = internal::find_entry_by_type(typeid(*index));
  internal::StreamWriter out(writer);
  if (e != nullptr && (e->own_type || internal::holds_tqsearch_index(*index))) {
    internal::write_registered(*e, *index, out);
    return;
  }
  try {
    faiss::write_index(index, writer);
  } catch (const faiss::FaissException& ex) {
    TQ_THROW("write_index: cannot serialize index of type " << typeid(*index).name()
                                                            << " (not a tqsearch type, and FAISS says: " << ex.what()
                                                            << ")");
  }
}

void write_index(const faiss::Index* index, const char* fname) {
  TQ_CHECK(index != nullptr, "write_index: index is null");
  TQ_CHECK(fname != nullptr && fname[0] != '\0', "write_index: file name is empty");
  const std::string target(fname);
  std::string tmp = target + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  TQ_CHECK(fd >= 0, "write_index: cannot create a temporary file next to '" << target << "': " << errno_text());
  ::fchmod(fd, 0644);
  FILE* f = ::fdopen(fd, "wb");
  if (f == nullptr) {
    const std::string err = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    TQ_THROW("write_index: cannot open temporary file '" << tmp << "': " << err);
  }
  try {
    FileWriter w(f, target);
    tqsearch::write_index(index, &w);
    TQ_CHECK(std::fflush(f) == 0, "write_index: cannot flush '" << tmp << "': " << errno_text());
    TQ_CHECK(::fsync(::fileno(f)) == 0, "write_index: fsync of '" << tmp << "' failed: " << errno_text());
  } catch (...) {
    std::fclose(f);
    ::unlink(tmp.c_str());
    throw;
  }
  if (std::fclose(f) != 0) {
    const std::string err = errno_text();
    ::unlink(tmp.c_str());
    TQ_THROW("write_index: closing '" << tmp << "' failed: " << err);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const std::string err = errno_text();
    ::unlink(tmp.c_str());
    TQ_THROW("write_index: cannot rename '" << tmp << "' to '" << target << "': " << err);
  }
  // Make the rename durable (best effort: some file systems refuse fsync on directories).
  const int dfd = ::open(parent_dir(target).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::unique_ptr<faiss::Index> read_index(faiss::IOReader* reader) {
  TQ_CHECK(reader != nullptr, "read_index: reader is null");
  uint8_t head[4];
  size_t got = 0;
  while (got < 4) {
    const size_t r = (*reader)(head + got, 1, 4 - got);
    if (r == 0) break;
    got += r;
  }
  TQ_CHECK(got > 0, "read_index: '" << reader->name << "' is empty");
  TQ_CHECK(got == 4, "read_index: '" << reader->name << "' is truncated (" << got << " bytes)");
  uint32_t fourcc;
  std::memcpy(&fourcc, head, 4);
  if (const internal::IndexIoEntry* e = internal::find_entry_by_fourcc(fourcc)) {
    internal::StreamReader in(reader);
    try {
      return internal::read_registered(*e, in, 0);
    } catch (const std::bad_alloc&) {
      TQ_THROW("read_index: corrupt file '" << reader->name << "': declared sizes cannot be allocated");
    }
  }
  internal::PrefixedReader prefixed(std::vector<uint8_t>(head, head + 4), reader);
  try {
    return std::unique_ptr<faiss::Index>(faiss::read_index(&prefixed));
  } catch (const faiss::FaissException& ex) {
    TQ_THROW("read_index: '" << reader->name << "' (type " << internal::fourcc_to_string(fourcc)
                             << ") is not a tqsearch index and FAISS cannot read it: " << ex.what());
  } catch (const std::bad_alloc&) {
    TQ_THROW("read_index: corrupt file '" << reader->name << "': declared sizes cannot be allocated");
  }
}

std::unique_ptr<faiss::Index> read_index(const char* fname) {
  TQ_CHECK(fname != nullptr && fname[0] != '\0', "read_index: file name is empty");
  FILE* f = std::fopen(fname, "rb");
  TQ_CHECK(f != nullptr, "read_index: cannot open '" << fname << "': " << errno_text());
  std::unique_ptr<faiss::Index> idx;
  try {
    FileReader r(f, fname);
    idx = tqsearch::read_index(&r);
    uint8_t extra;
    TQ_CHECK(std::fread(&extra, 1, 1, f) == 0,
             "read_index: '" << fname << "' has trailing bytes after the index (corrupt or concatenated file)");
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  return idx;
}

}  // namespace tqsearch
