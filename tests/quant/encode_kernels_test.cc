// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// The encode sums (internal/encode_kernels.h) give the bits of their sequential definitions on every SIMD level.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "quant/bit_allocation.h"
#include "quant/internal/encode_kernels.h"
#include "quant/internal/quantize.h"
#include "quant/internal/random.h"
#include "quant/lloyd_max_codebook.h"
#include "test_data.h"

namespace tqsearch {
namespace {

class EncodeKernels : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    if (!simd_level_supported(GetParam())) GTEST_SKIP() << simd_level_name(GetParam()) << " not supported by this CPU";
  }
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST_P(EncodeKernels, SumSquaresIsTheFourLaneDefinition) {
  const uint64_t seed = 71;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  for (int d : {1, 2, 3, 4, 5, 7, 8, 31, 64, 100, 101, 130, 1536}) {
    auto x = testing::gaussian(4, d, seed + d);
    for (size_t i = 0; i < x.size(); i += 3) x[i] *= 1e3f;  // a wide range, so that the order of additions shows
    for (int m = 1; m <= 4; ++m) {
      double got[4];
      internal::sum_squares_rows(GetParam(), x.data(), size_t(d), d, m, got);
      for (int v = 0; v < m; ++v) {
        const float* r = x.data() + size_t(v) * d;
        double s[4] = {0, 0, 0, 0};
        int j = 0;
        for (; j + 4 <= d; j += 4)
          for (int u = 0; u < 4; ++u) s[u] += double(r[j + u]) * double(r[j + u]);
        for (; j < d; ++j) s[0] += double(r[j]) * double(r[j]);
        const double want = (s[0] + s[1]) + (s[2] + s[3]);
        EXPECT_TRUE(same_bits(got[v], want)) << "d " << d << " m " << m << " row " << v << ": " << got[v] << " vs "
                                             << want;
      }
    }
  }
}

TEST_P(EncodeKernels, RhoIsTheSequentialSumOfEachRow) {
  const uint64_t seed = 72;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  internal::Rng rng(seed);
  for (int d : {1, 3, 4, 5, 9, 64, 100, 101, 103, 130}) {
    for (double rate : {1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 1.5, 2.5, 3.5, 4.5}) {
      const BitAllocation a(d, rate);
      const auto& ch = LloydMaxCodebook::get(d, a.high_bits()).centroids();
      const auto& cl = LloydMaxCodebook::get(d, a.low_bits()).centroids();
      auto y = testing::gaussian(4, d, seed + d);
      for (size_t i = 0; i < y.size(); i += 5) y[i] *= 1e4f;
      std::vector<uint8_t> idx(4 * size_t(d));
      for (size_t i = 0; i < idx.size(); ++i) {
        const int j = int(i % size_t(d));
        idx[i] = static_cast<uint8_t>(rng.next_u64() & ((1u << a.bits_of(j)) - 1));
      }
      internal::RhoArgs ra;
      ra.y = y.data();
      ra.idx = idx.data();
      ra.d = d;
      ra.nh = a.num_high();
      ra.ch = ch.data();
      ra.nbh = a.high_bits();
      ra.cl = cl.data();
      ra.nbl = a.low_bits();
      double got[4];
      internal::rho_rows4(GetParam(), ra, got);
      for (int v = 0; v < 4; ++v) {
        double want = 0;
        for (int j = 0; j < d; ++j) {
          const float c = (j < a.num_high() ? ch : cl)[idx[size_t(v) * d + j]];
          want += double(y[size_t(v) * d + j]) * double(c);
        }
        EXPECT_TRUE(same_bits(got[v], want)) << "d " << d << " rate " << rate << " row " << v;
      }
    }
  }
}

// 1 bit with the symmetric codebook: ρ from |y| without the indices equals the sum over the centroids of the
// nearest-centroid indices, zeros of both signs included.
TEST_P(EncodeKernels, OneBitRhoFromMagnitudesEqualsTheCentroidSum) {
  const uint64_t seed = 74;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  for (int d : {1, 2, 5, 8, 64, 100, 131}) {
    const LloydMaxCodebook& cb = LloydMaxCodebook::get(d, 1);
    const auto& c = cb.centroids();
    ASSERT_EQ(cb.boundaries()[0], 0.0f);
    ASSERT_EQ(c[0], -c[1]);
    auto y = testing::gaussian(4, d, seed + d);
    for (size_t i = 0; i < y.size(); i += 7) y[i] = (i / 7) % 2 ? 0.0f : -0.0f;
    std::vector<uint8_t> idx(y.size());
    for (size_t i = 0; i < y.size(); ++i) idx[i] = y[i] > 0.0f ? 1 : 0;
    internal::RhoArgs ra;
    ra.y = y.data();
    ra.d = d;
    ra.ch = c.data();
    ra.nbh = 1;
    ra.cl = c.data();
    ra.nbl = 1;
    ra.sign_c = c[1];
    double got[4];
    internal::rho_rows4(GetParam(), ra, got);
    for (int v = 0; v < 4; ++v) {
      double want = 0;
      for (int j = 0; j < d; ++j) want += double(y[size_t(v) * d + j]) * double(c[idx[size_t(v) * d + j]]);
      EXPECT_TRUE(same_bits(got[v], want)) << "d " << d << " row " << v;
    }
  }
}

TEST_P(EncodeKernels, OneBitQuantizePackEqualsQuantizeThenPack) {
  const uint64_t seed = 73;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  for (int d : {1, 5, 7, 8, 9, 15, 16, 17, 63, 100, 128, 1537}) {
    auto y = testing::gaussian(1, d, seed + d);
    y[0] = 0.0f;  // on the boundary: the lower cell
    if (d > 2) y[2] = -0.0f;
    const LloydMaxCodebook& cb = LloydMaxCodebook::get(d, 1);
    const BitAllocation a(d, 1);
    std::vector<uint8_t> want_idx(d), want_code(a.packed_bytes());
    internal::quantize_scalar(cb.boundaries().data(), 1, y.data(), d, want_idx.data());
    a.pack(want_idx.data(), want_code.data());
    std::vector<uint8_t> idx(d, 0xEE), code(a.packed_bytes(), 0xEE);
    internal::quantize_pack_1bit(GetParam(), cb.boundaries()[0], y.data(), d, idx.data(), code.data());
    EXPECT_EQ(idx, want_idx) << "d " << d;
    EXPECT_EQ(code, want_code) << "d " << d;
    std::vector<uint8_t> code_only(a.packed_bytes(), 0xEE);
    internal::quantize_pack_1bit(GetParam(), cb.boundaries()[0], y.data(), d, nullptr, code_only.data());
    EXPECT_EQ(code_only, want_code) << "d " << d;
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, EncodeKernels, ::testing::ValuesIn(all_simd_levels()),
                         [](const auto& info) { return std::string(simd_level_name(info.param)); });

}  // namespace
}  // namespace tqsearch
