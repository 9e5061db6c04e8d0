// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// How many bits each rotated coordinate gets, and the packing of per-coordinate indices into a row code.
///
/// Integer rates give every coordinate `bits` bits. A fractional rate b + f (e.g. 2.5, 3.5) gives the first
/// round(f·d) coordinates b + 1 bits and the rest b (TurboQuant §4: split into two groups) — after the random
/// rotation which coordinates get the extra bit does not matter. Row codes are an LSB-first bit stream over
/// coordinates 0..d−1, ceil(total_bits / 8) bytes, padding bits zero.

#include <cstddef>
#include <cstdint>

namespace tqsearch {

class BitAllocation {
 public:
  BitAllocation() = default;
  /// @param d     dimension >= 1
  /// @param rate  bits per coordinate in [1, 8]; fractional rates must satisfy rate·d = whole bits after
  ///              rounding the number of high coordinates (round(frac·d)).
  BitAllocation(int d, double rate);

  int d() const { return d_; }
  double rate() const { return rate_; }
  int low_bits() const { return low_bits_; }   ///< bits of coordinates [num_high, d)
  int high_bits() const { return low_bits_ + (num_high_ > 0 ? 1 : 0); }
  int num_high() const { return num_high_; }   ///< coordinates [0, num_high) carry low_bits + 1 bits
  int bits_of(int j) const { return j < num_high_ ? low_bits_ + 1 : low_bits_; }
  size_t total_bits() const { return size_t(d_) * low_bits_ + num_high_; }
  size_t packed_bytes() const { return (total_bits() + 7) / 8; }

  /// @param idx  (d) per-coordinate indices, each < 2^bits_of(j)
  /// @param out  (packed_bytes()) row code; every byte is written
  void pack(const uint8_t* idx, uint8_t* out) const;
  /// Inverse of pack: (packed_bytes()) → (d) indices.
  void unpack(const uint8_t* in, uint8_t* idx) const;

 private:
  template <int W>
  void pack_uniform(const uint8_t* idx, uint8_t* out) const;
  template <int W>
  void unpack_uniform(const uint8_t* in, uint8_t* idx) const;

  int d_ = 0;
  double rate_ = 0;
  int low_bits_ = 0;
  int num_high_ = 0;
};

}  // namespace tqsearch
