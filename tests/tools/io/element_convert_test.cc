// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/io/internal/element_convert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace tqsearch::io::internal {
namespace {

TEST(Float16, EveryFiniteHalfRoundTripsThroughFloat32) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = half_to_float(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_EQ((h & 0x7c00u), 0x7c00u);
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f))));
      continue;
    }
    ASSERT_EQ(float_to_half(f), uint16_t(h)) << "half 0x" << std::hex << h << " = " << f;
  }
}

TEST(Float16, KnownValues) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
}

TEST(Float16, RoundsToNearestEvenAndOverflowsToInf) {
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie between 1 and 1+2^-10 → even (1)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie → even (1+2^-9)
  EXPECT_EQ(float_to_half(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  EXPECT_EQ(float_to_half(-1e9f), 0xfc00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
}

TEST(FindNonFinite, LocatesTheFirstOffender) {
  float x[37];
  for (float& v : x) v = 1.f;
  EXPECT_EQ(find_non_finite(x, 37), 37u);
  x[20] = -std::numeric_limits<float>::infinity();
  x[30] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(find_non_finite(x, 37), 20u);
  EXPECT_EQ(find_non_finite(x, 20), 20u);
}

}  // namespace
}  // namespace tqsearch::io::internal
