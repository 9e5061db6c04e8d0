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
    const int per = 8 / low_bits_;
    for (size_t byte = 0; byte < nbytes; ++byte) {
      unsigned v = 0;
      for (int k = 0; k < per; ++k) {
        const size_t j = byte * per + k;
        if (j < size_t(d_)) v |= unsigned(idx[j]) << (k * low_bits_);
      }
      out[byte] = static_cast<uint8_t>(v);
    }
    return;
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
