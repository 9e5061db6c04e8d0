// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/hadamard_rotation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/dense_rotation.h"
#include "quant/error.h"
#include "test_data.h"

namespace tqsearch {
namespace {

double dot(const float* a, const float* b, int d) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += double(a[j]) * b[j];
  return s;
}

// Kolmogorov–Smirnov statistic of samples against N(0, sigma²).
double ks_normal(std::vector<double> s, double sigma) {
  std::sort(s.begin(), s.end());
  double dmax = 0;
  const double n = double(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const double F = 0.5 * std::erfc(-s[i] / (sigma * std::sqrt(2.0)));
    dmax = std::max({dmax, std::abs(F - i / n), std::abs((i + 1) / n - F)});
  }
  return dmax;
}

class RotationKinds : public ::testing::TestWithParam<std::tuple<RotationKind, int>> {};

TEST_P(RotationKinds, PreservesNormsAndInnerProducts) {
  const auto [kind, d] = GetParam();
  const uint64_t seed = 17;
  std::printf("seed %llu\n", (unsigned long long)seed);
  auto rot = make_rotation(d, {kind, seed, 0});
  const size_t n = 16;
  auto x = testing::gaussian(n, d, seed);
  std::vector<float> y(x.size());
  rot->forward(n, x.data(), y.data());
  for (size_t i = 0; i + 1 < n; ++i) {
    const double nx = dot(&x[i * d], &x[i * d], d), ny = dot(&y[i * d], &y[i * d], d);
    EXPECT_NEAR(ny / nx, 1.0, 1e-5) << "row " << i;
    const double ipx = dot(&x[i * d], &x[(i + 1) * d], d), ipy = dot(&y[i * d], &y[(i + 1) * d], d);
    EXPECT_NEAR(ipy, ipx, 1e-5 * nx) << "row " << i;
  }
}

TEST_P(RotationKinds, InverseUndoesForward) {
  const auto [kind, d] = GetParam();
  auto rot = make_rotation(d, {kind, 99, 0});
  const size_t n = 8;
  auto x = testing::gaussian(n, d, 5);
  std::vector<float> y(x.size()), z(x.size());
  rot->forward(n, x.data(), y.data());
  rot->inverse(n, y.data(), z.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(z[i], x[i], 1e-5 * (1 + std::abs(x[i])));
  // In place gives the same result.
  std::vector<float> w = x;
  rot->forward(n, w.data(), w.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(w[i], y[i]);
}

TEST_P(RotationKinds, SameSeedSameMatrixDifferentSeedDifferent) {
  const auto [kind, d] = GetParam();
  auto a = make_rotation(d, {kind, 1, 0}), b = make_rotation(d, {kind, 1, 0}), c = make_rotation(d, {kind, 2, 0});
  auto x = testing::gaussian(1, d, 3);
  std::vector<float> ya(d), yb(d), yc(d);
  a->forward(1, x.data(), ya.data());
  b->forward(1, x.data(), yb.data());
  c->forward(1, x.data(), yc.data());
  EXPECT_EQ(0, std::memcmp(ya.data(), yb.data(), sizeof(float) * d));
  if (d > 2) EXPECT_NE(0, std::memcmp(ya.data(), yc.data(), sizeof(float) * d));
}

// The dense reference is O(d³) to build: it stops at d = 384.
INSTANTIATE_TEST_SUITE_P(
    Hadamard, RotationKinds,
    ::testing::Combine(::testing::Values(RotationKind::kHadamard),
                       ::testing::Values(1, 2, 3, 7, 8, 100, 128, 200, 384, 768, 1536)),
    [](const auto& info) { return "d" + std::to_string(std::get<1>(info.param)); });
INSTANTIATE_TEST_SUITE_P(
    Dense, RotationKinds,
    ::testing::Combine(::testing::Values(RotationKind::kDense), ::testing::Values(1, 2, 3, 7, 8, 100, 128, 384)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) == RotationKind::kHadamard ? "Hadamard" : "Dense") + "_d" +
             std::to_string(std::get<1>(info.param));
    });

// The rotated coordinates of spiky inputs look like N(0, 1/d) (TurboQuant Lemma 1 needs this).
class SpikyInputs : public ::testing::TestWithParam<int> {};

TEST_P(SpikyInputs, RotatedCoordinatesPassKolmogorovSmirnov) {
  const int d = GetParam();
  const uint64_t seed = 2024;
  std::printf("seed %llu\n", (unsigned long long)seed);
  HadamardRotation rot(d, seed);
  // α = 0.001 critical value of the one-sample KS statistic: 1.95/√n.
  const double crit = 1.95 / std::sqrt(double(d));
  std::vector<float> e1(d, 0.f);
  e1[0] = 1.f;
  std::vector<float> spiky(d, 0.f);  // 90% of the energy in 3 coordinates, the rest spread thinly
  spiky[0] = std::sqrt(0.5f);
  spiky[d / 2] = std::sqrt(0.25f);
  spiky[d - 1] = std::sqrt(0.15f);
  for (int j = 1; j < d - 1; ++j)
    if (j != d / 2) spiky[j] = std::sqrt(0.1f / (d - 3));
  for (const auto* in : {&e1, &spiky}) {
    std::vector<float> y(d);
    rot.forward(1, in->data(), y.data());
    std::vector<double> s(y.begin(), y.end());
    const double ks = ks_normal(s, 1 / std::sqrt(double(d)));
    EXPECT_LT(ks, crit) << "d=" << d << (in == &e1 ? " e1" : " spiky");
  }
}

INSTANTIATE_TEST_SUITE_P(Dims, SpikyInputs, ::testing::Values(100, 128, 384, 768, 1536));

// Every SIMD level gives bit-identical rotations.
class FwhtLevels : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(FwhtLevels, MatchesScalarBitExact) {
  const SimdLevel level = GetParam();
  if (!simd_level_supported(level)) GTEST_SKIP() << simd_level_name(level) << " not supported by this CPU";
  for (int d : {1, 5, 8, 9, 16, 31, 32, 40, 63, 64, 100, 128, 257, 512, 1000, 1536, 2048, 4096, 8192, 16384}) {
    HadamardRotation rot(d, 7);
    auto x = testing::gaussian(3, d, d);
    std::vector<float> a(x.size()), b(x.size()), ia(x.size()), ib(x.size());
    rot.forward(3, x.data(), a.data(), SimdLevel::kScalar);
    rot.forward(3, x.data(), b.data(), level);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.size())) << "forward d=" << d;
    rot.inverse(3, a.data(), ia.data(), SimdLevel::kScalar);
    rot.inverse(3, a.data(), ib.data(), level);
    EXPECT_EQ(0, std::memcmp(ia.data(), ib.data(), sizeof(float) * a.size())) << "inverse d=" << d;
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, FwhtLevels, ::testing::ValuesIn(all_simd_levels()),
                         [](const auto& info) { return std::string(simd_level_name(info.param)); });

// forward_rows_inplace (encode's grouped rotation) gives every row exactly the bits of forward().
TEST(HadamardRotation, RowsInPlaceMatchForwardBitExact) {
  for (int d : {1, 7, 32, 100, 128, 1536}) {
    const size_t m = 4;
    const auto x = testing::gaussian(m, d, 5 + d);
    HadamardRotation rot(d, 11);
    std::vector<float> a(x.size()), b(x);
    rot.forward(m, x.data(), a.data());
    rot.forward_rows_inplace(m, b.data());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.size())) << "d=" << d;
  }
}

TEST(HadamardRotation, RejectsBadArguments) {
  EXPECT_THROW(HadamardRotation(0, 1), Error);
  EXPECT_THROW(HadamardRotation(-3, 1), Error);
  EXPECT_THROW(HadamardRotation(16, 1, -1), Error);
  EXPECT_THROW(DenseRotation(0, 1), Error);
  HadamardRotation rot(16, 1);
  std::vector<float> y(16);
  EXPECT_THROW(rot.forward(1, nullptr, y.data()), Error);
  EXPECT_THROW(make_rotation(16, {static_cast<RotationKind>(77), 1, 0}), Error);
}

TEST(HadamardRotation, DefaultRoundsAndBlockSize) {
  HadamardRotation r(1536, 3);
  EXPECT_EQ(r.block_size(), 1024);
  EXPECT_EQ(r.rounds(), HadamardRotation::kDefaultRounds);
  EXPECT_EQ(r.signs().size(), size_t(r.rounds()) * 2 * 1024);
}

}  // namespace
}  // namespace tqsearch
