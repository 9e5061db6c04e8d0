// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/bit_allocation.h"

#include <gtest/gtest.h>

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
