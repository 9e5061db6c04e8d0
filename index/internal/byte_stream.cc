// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/internal/byte_stream.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "quant/error.h"

namespace tqsearch::internal {

namespace {
constexpr size_t kReadChunk = size_t(16) << 20;  // grow section buffers 16 MiB at a time

inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}
}  // namespace

uint64_t checksum64(const uint8_t* data, size_t n, uint64_t seed) {
  uint64_t h = mix64(seed ^ 0x243f6a8885a308d3ull);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ mix64(w + 0x9e3779b97f4a7c15ull)) * 0x100000001b3ull;
    h = (h << 27) | (h >> 37);
  }
  uint64_t tail = 0;
  if (n > i) std::memcpy(&tail, data + i, n - i);
  h ^= mix64(tail ^ (uint64_t(n - i) << 56));
  return mix64(h ^ n);
}

std::string fourcc_to_string(uint32_t fourcc) {
  char s[4];
  bool printable = true;
  for (int i = 0; i < 4; ++i) {
    s[i] = char((fourcc >> (8 * i)) & 0xff);
    if (s[i] < 0x20 || s[i] > 0x7e) printable = false;
  }
  if (printable) return "'" + std::string(s, 4) + "'";
  char hex[16];
  std::snprintf(hex, sizeof(hex), "0x%08x", fourcc);
  return hex;
}

void ByteSink::put_bytes(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  buf_.insert(buf_.end(), b, b + n);
}

void ByteSource::get_bytes(void* p, size_t n) {
  TQ_CHECK(n <= remaining(), "index file: " << what_ << " is too short (needs " << n << " more bytes at offset "
                                            << pos_ << ", has " << remaining() << ")");
  std::memcpy(p, buf_.data() + pos_, n);
  pos_ += n;
}
uint8_t ByteSource::get_u8() { uint8_t v; get_bytes(&v, 1); return v; }
uint32_t ByteSource::get_u32() { uint32_t v; get_bytes(&v, 4); return v; }
int32_t ByteSource::get_i32() { int32_t v; get_bytes(&v, 4); return v; }
uint64_t ByteSource::get_u64() { uint64_t v; get_bytes(&v, 8); return v; }
int64_t ByteSource::get_i64() { int64_t v; get_bytes(&v, 8); return v; }
float ByteSource::get_f32() { float v; get_bytes(&v, 4); return v; }
double ByteSource::get_f64() { double v; get_bytes(&v, 8); return v; }
bool ByteSource::get_bool() {
  const uint8_t v = get_u8();
  TQ_CHECK(v <= 1, "index file: " << what_ << " has a flag byte " << int(v) << " at offset " << pos_ - 1
                                  << " (allowed: 0 or 1)");
  return v == 1;
}
void ByteSource::expect_end() const {
  TQ_CHECK(remaining() == 0, "index file: " << what_ << " has " << remaining() << " unexpected trailing bytes");
}

void StreamWriter::write_bytes(const void* p, size_t n) {
  if (n == 0) return;
  const size_t got = (*w_)(p, 1, n);
  TQ_CHECK(got == n, "write_index: short write to '" << w_->name << "' (" << got << " of " << n
                                                     << " bytes; disk full or I/O error?)");
}

void StreamWriter::write_section(const uint8_t* data, size_t n) {
  const uint64_t len = n;
  write_bytes(&len, 8);
  write_bytes(data, n);
  const uint64_t sum = checksum64(data, n, len);
  write_bytes(&sum, 8);
}

void StreamReader::read_bytes(void* p, size_t n, const char* what) {
  if (n == 0) return;
  size_t done = 0;
  auto* b = static_cast<uint8_t*>(p);
  while (done < n) {
    const size_t got = (*r_)(b + done, 1, n - done);
    if (got == 0) break;
    done += got;
  }
  TQ_CHECK(done == n, "read_index: file is truncated: reading " << what << " needed " << n << " bytes, got " << done);
}

uint32_t StreamReader::read_u32(const char* what) {
  uint32_t v;
  read_bytes(&v, 4, what);
  return v;
}

std::vector<uint8_t> StreamReader::read_section(const char* what, uint64_t max_len, uint64_t exact_len) {
  uint64_t len;
  read_bytes(&len, 8, what);
  if (exact_len != kAnyLength) {
    TQ_CHECK(len == exact_len, "read_index: corrupt file: " << what << " declares " << len
                                                            << " bytes, expected exactly " << exact_len);
  }
  TQ_CHECK(len <= max_len, "read_index: corrupt file: " << what << " declares " << len << " bytes, more than the "
                                                        << max_len << " allowed");
  std::vector<uint8_t> buf;
  size_t done = 0;
  while (done < len) {
    const size_t step = size_t(std::min<uint64_t>(len - done, kReadChunk));
    buf.resize(done + step);
    read_bytes(buf.data() + done, step, what);
    done += step;
  }
  uint64_t stored;
  read_bytes(&stored, 8, what);
  const uint64_t actual = checksum64(buf.data(), buf.size(), len);
  TQ_CHECK(stored == actual, "read_index: corrupt file: checksum mismatch in " << what);
  return buf;
}

PrefixedReader::PrefixedReader(std::vector<uint8_t> prefix, faiss::IOReader* inner)
    : prefix_(std::move(prefix)), inner_(inner) {
  name = inner->name;
}

size_t PrefixedReader::operator()(void* ptr, size_t size, size_t nitems) {
  if (size == 0 || nitems == 0) return 0;
  const size_t want = size * nitems;
  auto* b = static_cast<uint8_t*>(ptr);
  size_t done = 0;
  if (pos_ < prefix_.size()) {
    const size_t take = std::min(want, prefix_.size() - pos_);
    std::memcpy(b, prefix_.data() + pos_, take);
    pos_ += take;
    done = take;
  }
  while (done < want) {
    const size_t got = (*inner_)(b + done, 1, want - done);
    if (got == 0) break;
    done += got;
  }
  return done / size;
}

}  // namespace tqsearch::internal
