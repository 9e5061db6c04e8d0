// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/bit_allocation.h"

#include <cmath>
#include <cstring>

#include "quant/error.h"

namespace tqsearch {

BitAllocation::BitAllocation(int d, double rate) : d_(d), rate_(rate) {
  TQ_CHECK(d >= 1, "BitAllocation: dimension d must be >= 1, got " << d);
  TQ_CHECK(std::isfinite(rate) && rate >= 1.0 && rate <= 8.0,
           "BitAllocation: bits per coordinate must be in [1, 8], got " << rate);
  low_bits_ = static_cast<int>(std::floor(rate));
  const double frac = rate - low_bits_;
  num_high_ = static_cast<int>(std::lround(frac * d));
  if (num_high_ == d) {  // rounding pushed every coordinate up
    ++low_bits_;
    num_high_ = 0;
  }
  TQ_CHECK(low_bits_ + (num_high_ > 0) <= 8, "BitAllocation: rate " << rate << " needs more than 8 bits");
}

void BitAllocation::pack(const uint8_t* idx, uint8_t* out) const {
  const size_t nbytes = packed_bytes();
  if (num_high_ == 0 && low_bits_ == 8) {
    std::memcpy(out, idx, d_);
    return;
  }
  if (num_high_ == 0 && (low_bits_ == 4 || low_bits_ == 2 || low_bits_ == 1)) {
    switch (low_bits_) {
      case 4: return pack_uniform<4>(idx, out);
      case 2: return pack_uniform<2>(idx, out);
      default: return pack_uniform<1>(idx, out);
    }
  }
  uint64_t acc = 0;
  int nacc = 0;
  size_t o = 0;
  for (int j = 0; j < d_; ++j) {
    const int w = bits_of(j);
    acc |= uint64_t(idx[j]) << nacc;
    nacc += w;
    while (nacc >= 8) {
      out[o++] = static_cast<uint8_t>(acc);
      acc >>= 8;
      nacc -= 8;
    }
  }
  if (nacc > 0) out[o++] = static_cast<uint8_t>(acc);
  while (o < nbytes) out[o++] = 0;
}

template <int W>
void BitAllocation::pack_uniform(const uint8_t* idx, uint8_t* out) const {
  constexpr int kPer = 8 / W;  // indices per byte
  const size_t nbytes = packed_bytes();
  size_t byte = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // Eight indices (one 64-bit load, index k in bits 8k..8k+W−1) at a time, gathered into 8·W contiguous bits.
  constexpr size_t kBytesPer8 = W;  // output bytes per 8 indices
  const size_t groups8 = size_t(d_) / 8;
  for (size_t g = 0; g < groups8; ++g) {
    uint64_t v;
    std::memcpy(&v, idx + 8 * g, 8);
    uint64_t t;
    if (W == 1) {
      // Bit 8k → bit 56 + k: the shifts 56 − 7k never collide (8k − 7m = 8k' − 7m' only for k = k', m = m').
      t = (v * 0x0102040810204080ull) >> 56;
    } else if (W == 2) {
      // In each 32-bit half, index k (bits 8k, 8k+1) → bits 2k, 2k+1; the other shifted copies land above bit 7.
      t = v | (v >> 6) | (v >> 12) | (v >> 18);
      t = (t & 0xFF) | ((t >> 24) & 0xFF00);
    } else {
      t = (v | (v >> 4)) & 0x00FF00FF00FF00FFull;
      t = (t | (t >> 8)) & 0x0000FFFF0000FFFFull;
      t = (t | (t >> 16)) & 0xFFFFFFFFull;
    }
    for (size_t k = 0; k < kBytesPer8; ++k) out[byte + k] = static_cast<uint8_t>(t >> (8 * k));
    byte += kBytesPer8;
  }
#endif
  for (; byte < nbytes; ++byte) {
    unsigned v = 0;
    for (int k = 0; k < kPer; ++k) {
      const size_t j = byte * kPer + k;
      if (j < size_t(d_)) v |= unsigned(idx[j]) << (k * W);
    }
    out[byte] = static_cast<uint8_t>(v);
  }
}

template <int W>
void BitAllocation::unpack_uniform(const uint8_t* in, uint8_t* idx) const {
  constexpr int kPer = 8 / W;
  constexpr unsigned kMask = (1u << W) - 1;
  const int full = d_ / kPer;
  for (int b = 0; b < full; ++b) {
    const unsigned byte = in[b];
    for (int k = 0; k < kPer; ++k) idx[b * kPer + k] = static_cast<uint8_t>((byte >> (k * W)) & kMask);
  }
  for (int j = full * kPer; j < d_; ++j) idx[j] = static_cast<uint8_t>((in[j / kPer] >> ((j % kPer) * W)) & kMask);
}

void BitAllocation::unpack(const uint8_t* in, uint8_t* idx) const {
  if (num_high_ == 0 && low_bits_ == 8) {
    std::memcpy(idx, in, d_);
    return;
  }
  if (num_high_ == 0 && (low_bits_ == 4 || low_bits_ == 2 || low_bits_ == 1)) {
    // Compile-time widths: no division per coordinate (this is on the rerank and scan-layout paths).
    switch (low_bits_) {
      case 4: return unpack_uniform<4>(in, idx);
      case 2: return unpack_uniform<2>(in, idx);
      default: return unpack_uniform<1>(in, idx);
    }
  }
  uint64_t acc = 0;
  int nacc = 0;
  size_t i = 0;
  for (int j = 0; j < d_; ++j) {
    const int w = bits_of(j);
    while (nacc < w) {
      acc |= uint64_t(in[i++]) << nacc;
      nacc += 8;
    }
    idx[j] = static_cast<uint8_t>(acc & ((1u << w) - 1));
    acc >>= w;
    nacc -= w;
  }
}

}  // namespace tqsearch
