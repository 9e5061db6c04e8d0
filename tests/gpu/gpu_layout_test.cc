// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Host-side checks of the GPU scan layout (no device needed).
#include <gtest/gtest.h>

#include <cstdio>

#include "gpu/internal/nibble_layout.h"
#include "quant/internal/random.h"

namespace tqsearch::gpu::internal {
namespace {

TEST(GpuNibbleLayout, DequantReturnsTableValueOfEveryIndex) {
  const uint64_t seed = 0x6e6962626c65ull;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  tqsearch::internal::Rng rng(seed);
  for (int trial = 0; trial < 2000; ++trial) {
    int8_t table[16];
    uint32_t words[4] = {0, 0, 0, 0};
    for (int t = 0; t < 16; ++t) {
      table[t] = static_cast<int8_t>(int(rng.next_u64() % 255) - 127);
      words[t / 4] |= uint32_t(uint8_t(table[t])) << (8 * (t % 4));
    }
    uint32_t idx[8];
    for (int i = 0; i < 8; ++i) idx[i] = static_cast<uint32_t>(rng.next_u64() % 16);
    if (trial < 16) {  // every index in every position at least once
      for (int i = 0; i < 8; ++i) idx[i] = static_cast<uint32_t>((trial + i) % 16);
    }
    const uint32_t w = pack_nibble_word(idx);
    uint32_t lo = 0, hi = 0;
    dequant_word_reference(w, words, lo, hi);
    for (int i = 0; i < 8; ++i) {
      const uint32_t v = i < 4 ? lo : hi;
      const int8_t got = static_cast<int8_t>((v >> (8 * (i % 4))) & 0xFF);
      ASSERT_EQ(got, table[idx[i]]) << "trial " << trial << " position " << i << " index " << idx[i];
    }
  }
}

TEST(GpuNibbleLayout, PackingUsesEveryBitOnce) {
  // Each (position, bit) of the 8 indices lands on a distinct bit of the word.
  uint32_t seen = 0;
  for (int i = 0; i < 8; ++i) {
    for (int b = 0; b < 4; ++b) {
      uint32_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      idx[i] = 1u << b;
      const uint32_t w = pack_nibble_word(idx);
      ASSERT_EQ(__builtin_popcount(w), 1) << "position " << i << " bit " << b;
      ASSERT_EQ(seen & w, 0u) << "position " << i << " bit " << b << " collides";
      seen |= w;
    }
  }
  EXPECT_EQ(seen, 0xFFFFFFFFu);
}

}  // namespace
}  // namespace tqsearch::gpu::internal
