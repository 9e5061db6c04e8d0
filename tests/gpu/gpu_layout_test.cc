// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Host-side checks of the GPU scan layout (no device needed).
#include <gtest/gtest.h>

#include <cstdio>

#include "gpu/internal/nibble_layout.h"
#include <vector>

#include "quant/internal/random.h"
#include "quant/lloyd_max_codebook.h"

namespace tqsearch::gpu::internal {
namespace {

TEST(GpuNibbleLayout, DequantReturnsTheSignedMagnitudeOfEveryCode) {
  const uint64_t seed = 0x6e6962626c65ull;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  tqsearch::internal::Rng rng(seed);
  for (int trial = 0; trial < 2000; ++trial) {
    int8_t magnitude[8];
    uint32_t words[2] = {0, 0};
    for (int m = 0; m < 8; ++m) {
      magnitude[m] = static_cast<int8_t>(int(rng.next_u64() % 256) - 128);
      words[m / 4] |= uint32_t(uint8_t(magnitude[m])) << (8 * (m % 4));
    }
    uint32_t code[8];
    for (int i = 0; i < 8; ++i) code[i] = static_cast<uint32_t>(rng.next_u64() % 16);
    if (trial < 16) {  // every code in every position at least once
      for (int i = 0; i < 8; ++i) code[i] = static_cast<uint32_t>((trial + i) % 16);
    }
    const uint32_t w = pack_nibble_word(code);
    uint32_t lo = 0, hi = 0;
    dequant_word_reference(w, words, lo, hi);
    for (int i = 0; i < 8; ++i) {
      const uint32_t v = i < 4 ? lo : hi;
      const int8_t got = static_cast<int8_t>((v >> (8 * (i % 4))) & 0xFF);
      const int m = code[i] & 7;
      const int expect = (code[i] & 8) ? -magnitude[m] - 1 : magnitude[m];  // ~T[m] for s = 1
      ASSERT_EQ(got, expect) << "trial " << trial << " position " << i << " code " << code[i];
      ASSERT_EQ(got, nibble_value(magnitude, code[i]));
    }
  }
}

// The table of every nibble-mode rate: each table index gets its own code, (v + ½)·tscale is within half a unit of
// the centroid (plus the codebook's own asymmetry), and the two members of a pair are exact negatives.
TEST(GpuNibbleLayout, TableRepresentsEveryCentroidWithinHalfAUnit) {
  const int d = 128;
  struct Rate {
    int high_bits, low_bits;  // high_bits 0: integer rate
  };
  for (const Rate r : {Rate{0, 1}, Rate{0, 2}, Rate{0, 3}, Rate{0, 4}, Rate{2, 1}, Rate{3, 2}, Rate{3, 1}, Rate{2, 2}}) {
    const int nhigh = r.high_bits ? 1 << r.high_bits : 0, nlow = 1 << r.low_bits;
    std::vector<float> ch = r.high_bits ? LloydMaxCodebook::get(d, r.high_bits).centroids() : std::vector<float>();
    const std::vector<float> cl = LloydMaxCodebook::get(d, r.low_bits).centroids();
    const NibbleTable nt = make_nibble_table(ch.data(), nhigh, cl.data(), nlow);
    ASSERT_GT(nt.tscale, 0.0f);
    bool used[16] = {};
    for (int t = 0; t < nhigh + nlow; ++t) {
      const float c = t < nhigh ? ch[t] : cl[t - nhigh];
      const int code = nt.code[t];
      ASSERT_LT(code, 16);
      ASSERT_FALSE(used[code]) << "code " << code << " given twice (rate " << r.high_bits << "/" << r.low_bits << ")";
      used[code] = true;
      const float rep = (nibble_value(nt.magnitude, code) + 0.5f) * nt.tscale;
      EXPECT_NEAR(rep, c, 0.5f * nt.tscale + 1e-5f) << "table index " << t;
      EXPECT_EQ(nibble_value(nt.magnitude, code ^ 8u), -nibble_value(nt.magnitude, code) - 1) << "pair of " << t;
    }
  }
}

TEST(GpuNibbleLayout, PackingUsesEveryBitOnce) {
  // Each (position, bit) of the 8 codes lands on a distinct bit of the word.
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
