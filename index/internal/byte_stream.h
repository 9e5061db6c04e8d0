// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Checked binary primitives of tqsearch index files (little-endian, fixed width), on top of FAISS's
/// IOWriter / IOReader so that FAISS's own writers can share the stream.
///
/// A *section* is [u64 length][length bytes][u64 checksum64(bytes, seed = length)]. Readers check the length
/// against a caller-given bound before allocating and read large sections in chunks, so a truncated file with a
/// huge declared length fails after reading what is there, never by allocating the declared size up front.
/// Every short read or write throws tqsearch::Error naming what was being read.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <faiss/impl/io.h>

namespace tqsearch::internal {

/// Non-cryptographic 64-bit checksum (word-wise multiply–xorshift mix); detects corruption, not tampering.
uint64_t checksum64(const uint8_t* data, size_t n, uint64_t seed);

/// "TqFl" → little-endian u32 (same convention as faiss::fourcc).
constexpr uint32_t make_fourcc(const char (&s)[5]) {
  return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
         uint32_t(uint8_t(s[3])) << 24;
}
/// Printable form of a fourcc ("TqFl", or hex when not printable) for error messages.
std::string fourcc_to_string(uint32_t fourcc);

/// Append-only byte buffer for section payloads.
class ByteSink {
 public:
  void put_bytes(const void* p, size_t n);
  void put_u8(uint8_t v) { put_bytes(&v, 1); }
  void put_u32(uint32_t v) { put_bytes(&v, 4); }
  void put_i32(int32_t v) { put_bytes(&v, 4); }
  void put_u64(uint64_t v) { put_bytes(&v, 8); }
  void put_i64(int64_t v) { put_bytes(&v, 8); }
  void put_f32(float v) { put_bytes(&v, 4); }
  void put_f64(double v) { put_bytes(&v, 8); }
  const std::vector<uint8_t>& bytes() const { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

/// Bounds-checked reader over a section payload. `what` names the section in error messages.
class ByteSource {
 public:
  ByteSource(const std::vector<uint8_t>& buf, std::string what) : buf_(buf), what_(std::move(what)) {}
  void get_bytes(void* p, size_t n);
  uint8_t get_u8();
  uint32_t get_u32();
  int32_t get_i32();
  uint64_t get_u64();
  int64_t get_i64();
  float get_f32();
  double get_f64();
  bool get_bool();  ///< u8 that must be 0 or 1
  size_t remaining() const { return buf_.size() - pos_; }
  /// Throws unless every byte was consumed.
  void expect_end() const;

 private:
  const std::vector<uint8_t>& buf_;
  std::string what_;
  size_t pos_ = 0;
};

/// Writes raw values and sections to a faiss::IOWriter; throws tqsearch::Error on short writes.
class StreamWriter {
 public:
  explicit StreamWriter(faiss::IOWriter* w) : w_(w) {}
  faiss::IOWriter* raw() const { return w_; }
  void write_bytes(const void* p, size_t n);
  void write_u32(uint32_t v) { write_bytes(&v, 4); }
  void write_section(const uint8_t* data, size_t n);
  void write_section(const ByteSink& sink) { write_section(sink.bytes().data(), sink.bytes().size()); }

 private:
  faiss::IOWriter* w_;
};

/// Reads raw values and sections from a faiss::IOReader; throws tqsearch::Error on short reads, oversized
/// lengths and checksum mismatches.
class StreamReader {
 public:
  explicit StreamReader(faiss::IOReader* r) : r_(r) {}
  faiss::IOReader* raw() const { return r_; }
  void read_bytes(void* p, size_t n, const char* what);
  uint32_t read_u32(const char* what);
  /// Reads a section whose length must be <= max_len (or == exact_len when exact_len != kAnyLength).
  static constexpr uint64_t kAnyLength = ~uint64_t(0);
  std::vector<uint8_t> read_section(const char* what, uint64_t max_len, uint64_t exact_len = kAnyLength);

 private:
  faiss::IOReader* r_;
};

/// faiss::IOReader that first returns `prefix`, then reads from `inner` (lets FAISS's reader see a fourcc that
/// was already consumed to choose between our readers and FAISS's).
class PrefixedReader : public faiss::IOReader {
 public:
  PrefixedReader(std::vector<uint8_t> prefix, faiss::IOReader* inner);
  size_t operator()(void* ptr, size_t size, size_t nitems) override;

 private:
  std::vector<uint8_t> prefix_;
  size_t pos_ = 0;
  faiss::IOReader* inner_;
};

}  // namespace tqsearch::internal
