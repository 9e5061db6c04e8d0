// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Every scan kernel equals its scalar reference bit for bit (block tails, query counts not a multiple of the
// kernel's batch, flushes past 256 group pairs), and the scalar reference computes the documented LUT sum.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "quant/error.h"

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
    {1100, 4, 40, 3},  // 550 pairs: four 128-pair chunks, then a tail of 38 (not a multiple of 4)
};

INSTANTIATE_TEST_SUITE_P(LevelsAndShapes, ScanKernel,
                         ::testing::Combine(::testing::ValuesIn(all_simd_levels()), ::testing::ValuesIn(kCases)),
                         [](const auto& info) {
                           return std::string(simd_level_name(std::get<0>(info.param))) + "_" +
                                  case_name(std::get<1>(info.param));
                         });

// Fused scan: every level makes the same sink calls (order, rows, scores bit for bit, masks) for LUTs quantized to
// 63/127/255, full and prefix layouts, with and without the slack term, with a sink that raises the threshold as a
// top-k would; and the scalar values are the documented mult·(scale·acc + bias) + add (+ slack·scale).
class FusedScanKernel : public ::testing::TestWithParam<std::tuple<SimdLevel, Case>> {};

struct SinkCall {
  int q;
  size_t first_row;
  uint32_t mask;
  float scores[32];
};

struct RecordingSink {
  std::vector<SinkCall> calls;
  std::vector<std::vector<float>> best;  // per query: the 5 best values seen (a top-5 threshold)
  float* threshold = nullptr;
  static void sink(void* ctx, int q, size_t first_row, const float* scores, uint32_t mask) {
    auto& r = *static_cast<RecordingSink*>(ctx);
    SinkCall c{q, first_row, mask, {}};
    std::memcpy(c.scores, scores, sizeof c.scores);
    r.calls.push_back(c);
    for (uint32_t m = mask; m; m &= m - 1) r.best[q].push_back(scores[__builtin_ctz(m)]);
    std::sort(r.best[q].begin(), r.best[q].end(), std::greater<float>());
    if (r.best[q].size() > 5) r.best[q].resize(5);
    if (r.best[q].size() == 5) r.threshold[q] = r.best[q].back();
  }
};

TEST_P(FusedScanKernel, MatchesScalarBitExact) {
  const auto [level, c] = GetParam();
  if (!simd_level_supported(level)) GTEST_SKIP() << simd_level_name(level) << " not supported by this CPU";
  TurboQuantizerOptions o;
  o.bits = c.bits;
  TurboQuantizer tq(c.d, o);
  auto x = testing::clustered(c.n, c.d, 8, 2000 + c.d);
  std::vector<uint8_t> rows(c.n * tq.code_size());
  tq.encode(c.n, x.data(), rows.data());
  auto q = testing::gaussian(c.nq, c.d, 9);
  for (int scan_bits : {0, 2}) {
    FastScanCodes codes(tq, scan_bits);
    if (codes.int8_path()) continue;  // the 8-bit path has no fused kernel
    codes.add(c.n, rows.data());
    const size_t nb = codes.num_blocks();
    std::vector<float> mult(nb * 32), add(nb * 32), slack(nb * 32);
    for (size_t v = 0; v < nb * 32; ++v) {
      mult[v] = 0.5f + float(v % 13) / 7;
      add[v] = -float(v % 5) / 3;
      slack[v] = float(v % 3) / 11;
    }
    for (int lut_max : {63, 127, 255}) {
      std::vector<QueryLut> luts(c.nq);
      std::vector<const uint8_t*> lp(c.nq);
      std::vector<float> scale(c.nq), bias(c.nq), sscale(c.nq);
      for (int i = 0; i < c.nq; ++i) {
        codes.build_lut(tq.prepare_query(q.data() + size_t(i) * c.d).rotated.data(), &luts[i], lut_max);
        for (uint8_t e : luts[i].lut) ASSERT_LE(int(e), lut_max);
        lp[i] = luts[i].lut.data();
        scale[i] = luts[i].scale;
        bias[i] = luts[i].bias;
        sscale[i] = 0.25f + 0.5f * i;
      }
      for (bool with_slack : {false, true}) {
        auto run = [&](SimdLevel lv) {
          RecordingSink r;
          std::vector<float> thr(c.nq, -INFINITY);
          r.best.resize(c.nq);
          r.threshold = thr.data();
          internal::FusedScan fs;
          fs.blocks = codes.data();
          fs.nblocks = nb;
          fs.g2 = codes.num_groups_padded();
          fs.luts = lp.data();
          fs.nq = c.nq;
          fs.scale = scale.data();
          fs.bias = bias.data();
          fs.mult = mult.data();
          fs.add = add.data();
          fs.slack = with_slack ? slack.data() : nullptr;
          fs.slack_scale = with_slack ? sscale.data() : nullptr;
          fs.first_row = 1000;
          fs.nvalid = c.n;
          fs.threshold = thr.data();
          fs.lut_max = lut_max;
          fs.sink = RecordingSink::sink;
          fs.ctx = &r;
          internal::scan_fused(lv, fs);
          return r.calls;
        };
        const std::vector<SinkCall> ref = run(SimdLevel::kScalar), got = run(level);
        const std::string what = "scan_bits " + std::to_string(scan_bits) + " lut_max " + std::to_string(lut_max) +
                                 (with_slack ? " slack" : "");
        ASSERT_EQ(ref.size(), got.size()) << what;
        ASSERT_FALSE(ref.empty()) << what;
        for (size_t i = 0; i < ref.size(); ++i) {
          ASSERT_EQ(ref[i].q, got[i].q) << what << " call " << i;
          ASSERT_EQ(ref[i].first_row, got[i].first_row) << what << " call " << i;
          ASSERT_EQ(ref[i].mask, got[i].mask) << what << " call " << i;
          ASSERT_EQ(0, std::memcmp(ref[i].scores, got[i].scores, sizeof ref[i].scores)) << what << " call " << i;
          ASSERT_EQ(ref[i].first_row % 32, 1000u % 32) << what;
          // Padding rows are never reported.
          const size_t r0 = ref[i].first_row - 1000;
          for (int v = 0; v < 32; ++v)
            if (r0 + v >= c.n) ASSERT_FALSE(ref[i].mask >> v & 1) << what;
        }
        // The scalar values are the documented formula over the accumulator kernel's sums.
        if (level == SimdLevel::kScalar) {
          std::vector<const void*> lv(lp.begin(), lp.end());
          std::vector<int32_t> acc(c.nq * nb * 32);
          internal::scan_blocks(SimdLevel::kScalar, codes, codes.data(), nb, lv.data(), c.nq, acc.data(), nb * 32);
          for (const SinkCall& call : ref) {
            const size_t r0 = call.first_row - 1000;
            for (int v = 0; v < 32; ++v) {
              const size_t row = r0 + v;
              float e = mult[row] * (static_cast<float>(acc[call.q * nb * 32 + row]) * scale[call.q] + bias[call.q]);
              e = e + add[row];
              if (with_slack) e = e + slack[row] * sscale[call.q];
              ASSERT_EQ(e, call.scores[v]) << what << " row " << row;
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LevelsAndShapes, FusedScanKernel,
                         ::testing::Combine(::testing::ValuesIn(all_simd_levels()), ::testing::ValuesIn(kCases)),
                         [](const auto& info) {
                           return std::string(simd_level_name(std::get<0>(info.param))) + "_" +
                                  case_name(std::get<1>(info.param));
                         });

class DotNibbles : public ::testing::TestWithParam<SimdLevel> {};

// The SIMD value of ⟨Πq, ŷ⟩ for 4-bit codes: the float TurboQuantizer::dot_rotated returns, on every level (the
// prefix scan's rescoring relies on it: one pass, no exact re-evaluation).
TEST_P(DotNibbles, EqualsDotRotatedBitExact) {
  const SimdLevel level = GetParam();
  if (!simd_level_supported(level)) GTEST_SKIP() << simd_level_name(level) << " not supported by this CPU";
  for (int d : {1, 7, 8, 9, 100, 127, 768}) {
    TurboQuantizerOptions o;
    o.bits = 4;
    TurboQuantizer tq(d, o);
    auto x = testing::gaussian(50, d, 40 + d);
    std::vector<uint8_t> rows(50 * tq.code_size());
    tq.encode(50, x.data(), rows.data());
    const auto& c = tq.codebook(4).centroids();
    auto q = testing::gaussian(3, d, 50 + d);
    for (int i = 0; i < 3; ++i) {
      const PreparedQuery pq = tq.prepare_query(q.data() + i * d);
      for (int v = 0; v < 50; ++v) {
        const uint8_t* code = rows.data() + v * tq.code_size();
        const float got = internal::dot_nibbles(level, code, d, pq.rotated.data(), c.data());
        ASSERT_EQ(got, tq.dot_rotated(pq, code)) << "d " << d << " v " << v;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, DotNibbles, ::testing::ValuesIn(all_simd_levels()),
                         [](const auto& info) { return std::string(simd_level_name(info.param)); });

TEST(FastScanCodes, PrefixLayoutKeepsTopBitsWithMergedCentroids) {
  TurboQuantizerOptions o;
  o.bits = 4;
  TurboQuantizer tq(100, o);
  FastScanCodes full(tq), prefix(tq, 2);
  EXPECT_FALSE(full.is_prefix());
  EXPECT_TRUE(prefix.is_prefix());
  EXPECT_EQ(prefix.num_groups(), 50);  // two 2-bit coordinates per nibble
  auto x = testing::gaussian(40, 100, 4);
  std::vector<uint8_t> rows(40 * tq.code_size());
  tq.encode(40, x.data(), rows.data());
  prefix.add(40, rows.data());
  const std::vector<float> pc = tq.codebook(4).prefix_centroids(2);
  std::vector<uint8_t> idx(100);
  for (int v = 0; v < 40; ++v) {
    tq.unpack_indices(rows.data() + v * tq.code_size(), idx.data());
    // Nibble of group g for vector v: coordinates 2g (low 2 bits) and 2g+1 (high 2 bits), top bits of each index.
    const uint8_t* blk = prefix.data() + (v / 32) * prefix.block_bytes();
    double dot = 0, fsq = 0, ssq = 0;
    for (int g = 0; g < 50; ++g) {
      const uint8_t byte = blk[g * 16 + (v % 32 & 15)];
      const int nib = (v % 32) < 16 ? byte & 15 : byte >> 4;
      EXPECT_EQ(nib & 3, idx[2 * g] >> 2);
      EXPECT_EQ(nib >> 2, idx[2 * g + 1] >> 2);
      for (int t : {2 * g, 2 * g + 1}) {
        const double f = tq.codebook(4).centroids()[idx[t]], s = pc[idx[t] >> 2];
        dot += f * s;
        fsq += f * f;
        ssq += s * s;
      }
    }
    const auto r = prefix.reconstruction_products(rows.data() + v * tq.code_size());
    EXPECT_NEAR(r.dot, dot, 1e-9);
    EXPECT_NEAR(r.full_sq, fsq, 1e-9);
    EXPECT_NEAR(r.scan_sq, ssq, 1e-9);
  }
  EXPECT_THROW(FastScanCodes(tq, 5), Error);
  QueryLut L;
  EXPECT_THROW(full.build_lut(x.data(), &L, 100), Error);
}

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
