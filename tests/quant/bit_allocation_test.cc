// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/bit_allocation.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "quant/error.h"
#include "quant/internal/random.h"

namespace tqsearch {
namespace {

void round_trip(int d, double rate, uint64_t seed) {
  const BitAllocation a(d, rate);
  internal::Rng rng(seed);
  std::vector<uint8_t> idx(d), back(d, 0xAA);
  for (int j = 0; j < d; ++j) idx[j] = static_cast<uint8_t>(rng.next_u64() & ((1u << a.bits_of(j)) - 1));
  std::vector<uint8_t> packed(a.packed_bytes() + 1, 0xCD);
  a.pack(idx.data(), packed.data());
  EXPECT_EQ(packed.back(), 0xCD) << "wrote past packed_bytes()";
  a.unpack(packed.data(), back.data());
  EXPECT_EQ(idx, back) << "d=" << d << " rate=" << rate;
  // Padding bits are zero: the same indices always give the same bytes.
  const size_t used = a.total_bits();
  if (used % 8) EXPECT_EQ(packed[a.packed_bytes() - 1] >> (used % 8), 0) << "d=" << d << " rate=" << rate;
}

TEST(BitAllocation, PackUnpackRoundTripsForEveryWidthAndAwkwardD) {
  for (int d : {1, 3, 100, 127, 200, 1536})
    for (int b = 1; b <= 8; ++b) round_trip(d, b, 31 * d + b);
}

TEST(BitAllocation, PackIsTheLsbFirstBitStreamOfTheIndices) {
  // The byte layout itself (row codes are stored in files and read by the GPU): bit t of the stream is byte t/8,
  // bit t%8; coordinate j occupies the bits_of(j) bits after those of coordinates 0..j−1, LSB first.
  const uint64_t seed = 0x5eed;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  internal::Rng rng(seed);
  std::vector<int> dims;
  for (int d = 1; d <= 70; ++d) dims.push_back(d);
  for (int d : {100, 127, 128, 129, 200, 768, 1536}) dims.push_back(d);
  for (int d : dims) {
    for (double rate : {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 1.5, 2.5, 3.5}) {
      const BitAllocation a(d, rate);
      std::vector<uint8_t> idx(d);
      for (int j = 0; j < d; ++j) idx[j] = static_cast<uint8_t>(rng.next_u64() & ((1u << a.bits_of(j)) - 1));
      std::vector<uint8_t> want(a.packed_bytes(), 0);
      size_t t = 0;
      for (int j = 0; j < d; ++j)
        for (int k = 0; k < a.bits_of(j); ++k, ++t)
          if ((idx[j] >> k) & 1) want[t / 8] |= static_cast<uint8_t>(1u << (t % 8));
      std::vector<uint8_t> got(a.packed_bytes(), 0x5A);
      a.pack(idx.data(), got.data());
      ASSERT_EQ(got, want) << "d=" << d << " rate=" << rate;
    }
  }
}

TEST(BitAllocation, FractionalRatesGiveTheExtraBitToTheFirstCoordinates) {
  for (int d : {1, 3, 100, 127, 200, 1536}) {
    for (double r : {1.5, 2.5, 3.5, 4.25}) {
      const BitAllocation a(d, r);
      EXPECT_NEAR(double(a.total_bits()) / d, r, 0.5 / d + 1e-12) << "d=" << d << " r=" << r;
      round_trip(d, r, 7 * d);
    }
  }
  const BitAllocation a(100, 2.5);
  EXPECT_EQ(a.num_high(), 50);
  EXPECT_EQ(a.low_bits(), 2);
  EXPECT_EQ(a.bits_of(0), 3);
  EXPECT_EQ(a.bits_of(99), 2);
  EXPECT_EQ(a.total_bits(), 250u);
}

TEST(BitAllocation, RejectsBadArguments) {
  EXPECT_THROW(BitAllocation(0, 4), Error);
  EXPECT_THROW(BitAllocation(16, 0.5), Error);
  EXPECT_THROW(BitAllocation(16, 8.5), Error);
  EXPECT_THROW(BitAllocation(16, std::nan("")), Error);
}

}  // namespace
}  // namespace tqsearch
