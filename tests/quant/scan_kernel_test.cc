// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Every scan kernel equals its scalar reference bit for bit (block tails, query counts not a multiple of the
// kernel's batch, flushes past 256 group pairs), and the scalar reference computes the documented LUT sum.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "quant/fast_scan_codes.h"
#include "test_data.h"

namespace tqsearch {
namespace {

struct Case {
  int d;
  double bits;
  size_t n;
  int nq;
};

std::string case_name(const Case& c) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "d%d_b%g_n%zu_q%d", c.d, c.bits, c.n, c.nq);
  std::string s(buf);
  for (char& ch : s)
    if (ch == '.') ch = 'p';
  return s;
}

class ScanKernel : public ::testing::TestWithParam<std::tuple<SimdLevel, Case>> {};

TEST_P(ScanKernel, MatchesScalarBitExact) {
  const auto [level, c] = GetParam();
  if (!simd_level_supported(level)) GTEST_SKIP() << simd_level_name(level) << " not supported by this CPU";
  TurboQuantizerOptions o;
  o.bits = c.bits;
  TurboQuantizer tq(c.d, o);
  auto x = testing::clustered(c.n, c.d, 8, 1000 + c.d);
  std::vector<uint8_t> rows(c.n * tq.code_size());
  tq.encode(c.n, x.data(), rows.data());
  FastScanCodes codes(tq);
  codes.add(c.n / 3, rows.data());  // appending in pieces must give the same layout
  codes.add(c.n - c.n / 3, rows.data() + (c.n / 3) * tq.code_size());
  auto q = testing::gaussian(c.nq, c.d, 7);
  std::vector<QueryLut> luts(c.nq);
  std::vector<const void*> lp(c.nq);
  for (int i = 0; i < c.nq; ++i) {
    const PreparedQuery pq = tq.prepare_query(q.data() + size_t(i) * c.d);
    codes.build_lut(pq.rotated.data(), &luts[i]);
    lp[i] = codes.int8_path() ? static_cast<const void*>(luts[i].q8.data()) : luts[i].lut.data();
  }
  const size_t nb = codes.num_blocks();
  const size_t stride = nb * 32 + 5;
  std::vector<int32_t> ref(c.nq * stride, -7), got(c.nq * stride, -9);
  internal::scan_blocks(SimdLevel::kScalar, codes, codes.data(), nb, lp.data(), c.nq, ref.data(), stride);
  internal::scan_blocks(level, codes, codes.data(), nb, lp.data(), c.nq, got.data(), stride);
  for (int i = 0; i < c.nq; ++i)
    for (size_t v = 0; v < nb * 32; ++v) ASSERT_EQ(got[i * stride + v], ref[i * stride + v]) << "q " << i << " v " << v;

  // The scalar accumulators decode to ⟨Πq, ŷ⟩ within the LUT rounding error.
  for (int i = 0; i < c.nq; ++i) {
    const PreparedQuery pq = tq.prepare_query(q.data() + size_t(i) * c.d);
    double tol;
    if (codes.int8_path()) {
      // |Σq·c − qs·cs·Σq8·T| ≤ Σ|q|·cs/2 + Σ|c|·qs/2 + d·qs·cs/4, |c| ≤ 127·cs.
      double qn = 0;
      for (float v : pq.rotated) qn += std::abs(v);
      const double cs = codes.int8_scale(), qs = luts[i].scale / cs;
      tol = 0.5 * cs * qn + 0.5 * qs * 127 * cs * c.d + 0.25 * qs * cs * c.d + 1e-5;
    } else {
      tol = 0.5 * luts[i].scale * codes.num_groups() * 1.0001 + 1e-5;
    }
    for (size_t v = 0; v < c.n; v += 7) {
      const float approx = luts[i].scale * ref[i * stride + v] + luts[i].bias;
      const float exact = tq.dot_rotated(pq, rows.data() + v * tq.code_size());
      ASSERT_NEAR(approx, exact, tol) << "q " << i << " v " << v;
    }
  }

  // Score conversion is bit-identical too.
  std::vector<float> mult(c.n), add(c.n), s_ref(c.n), s_got(c.n);
  for (size_t v = 0; v < c.n; ++v) {
    mult[v] = 0.5f + float(v % 13) / 7;
    add[v] = -float(v % 5);
  }
  internal::accumulators_to_scores(SimdLevel::kScalar, ref.data(), c.n, mult.data(), add.data(), luts[0].scale,
                                   luts[0].bias, s_ref.data());
  internal::accumulators_to_scores(level, ref.data(), c.n, mult.data(), add.data(), luts[0].scale, luts[0].bias,
                                   s_got.data());
  EXPECT_EQ(0, std::memcmp(s_ref.data(), s_got.data(), sizeof(float) * c.n));
}

const Case kCases[] = {
    {1, 4, 5, 1},     {3, 1, 33, 2},     {100, 4, 1000, 5},  {100, 2, 70, 3},   {100, 1, 64, 4},
    {127, 3, 95, 6},  {128, 2.5, 300, 7}, {200, 3.5, 129, 4}, {768, 4, 40, 9},   {1536, 4, 65, 3},
    {2048, 1, 40, 2}, {100, 8, 77, 5},    {130, 6, 33, 3},    {1536, 8, 40, 2},  {64, 4.5, 50, 3},
};

INSTANTIATE_TEST_SUITE_P(LevelsAndShapes, ScanKernel,
                         ::testing::Combine(::testing::ValuesIn(all_simd_levels()), ::testing::ValuesIn(kCases)),
                         [](const auto& info) {
                           return std::string(simd_level_name(std::get<0>(info.param))) + "_" +
                                  case_name(std::get<1>(info.param));
                         });

TEST(FastScanCodes, GroupsFollowTheBitAllocation) {
  auto groups_for = [](int d, double bits) {
    TurboQuantizerOptions o;
    o.bits = bits;
    TurboQuantizer tq(d, o);
    return FastScanCodes(tq).num_groups();
  };
  EXPECT_EQ(groups_for(100, 1), 25);   // 4 coordinates per nibble
  EXPECT_EQ(groups_for(100, 2), 50);   // 2 per nibble
  EXPECT_EQ(groups_for(100, 3), 100);  // 1 per nibble
  EXPECT_EQ(groups_for(100, 4), 100);
  EXPECT_EQ(groups_for(100, 2.5), 50 + 25);
  EXPECT_EQ(groups_for(101, 1), 26);   // partial last group
}

}  // namespace
}  // namespace tqsearch

namespace tqsearch {
namespace {

class PositionsAbove : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(PositionsAbove, MatchesScalarIncludingTails) {
  const SimdLevel level = GetParam();
  if (!simd_level_supported(level)) GTEST_SKIP() << simd_level_name(level) << " not supported by this CPU";
  auto s = testing::gaussian(1000, 1, 3);
  s[17] = 0.5f;  // a value equal to the threshold is not above it
  for (size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 1000u}) {
    std::vector<uint32_t> a(n + 1), b(n + 1);
    const size_t ma = internal::positions_above(SimdLevel::kScalar, s.data(), n, 0.5f, a.data());
    const size_t mb = internal::positions_above(level, s.data(), n, 0.5f, b.data());
    ASSERT_EQ(ma, mb) << "n " << n;
    for (size_t i = 0; i < ma; ++i) EXPECT_EQ(a[i], b[i]);
    for (size_t i = 0; i < ma; ++i) EXPECT_GT(s[a[i]], 0.5f);
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, PositionsAbove, ::testing::ValuesIn(all_simd_levels()),
                         [](const auto& info) { return std::string(simd_level_name(info.param)); });

}  // namespace
}  // namespace tqsearch
