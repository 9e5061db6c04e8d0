// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/lloyd_max_codebook.h"

#include <gtest/gtest.h>

#include <cmath>

#include "quant/error.h"

namespace tqsearch {
namespace {

// Large-d Gaussian Lloyd–Max centroids (units of 1/√d), the positive half (FIELD.md; Max 1960).
const std::vector<std::vector<double>> kGaussianCentroids = {
    {0.7979},
    {0.4528, 1.5104},
    {0.2451, 0.7560, 1.3439, 2.1520},
    {0.1284, 0.3881, 0.6568, 0.9424, 1.2562, 1.6181, 2.0690, 2.7326},
};

TEST(LloydMaxCodebook, MatchesGaussianCentroidsForLargeD) {
  const int d = 1 << 20;  // f_d → N(0, 1/d) with O(1/d) error
  for (int b = 1; b <= 4; ++b) {
    const LloydMaxCodebook cb(d, b);
    const auto& c = cb.centroids();
    ASSERT_EQ(cb.size(), 1 << b);
    const int half = 1 << (b - 1);
    for (int i = 0; i < half; ++i) {
      EXPECT_NEAR(c[half + i] * std::sqrt(double(d)), kGaussianCentroids[b - 1][i], 1e-3) << "b=" << b << " i=" << i;
      EXPECT_NEAR(c[half - 1 - i], -c[half + i], 1e-6) << "symmetry b=" << b;
    }
  }
}

TEST(LloydMaxCodebook, DistortionMatchesTurboQuantTheorem1) {
  const double measured[] = {0.363, 0.117, 0.0345, 0.0095};  // TurboQuant, Thm 1 discussion
  for (int d : {100, 128, 768, 1536}) {
    for (int b = 1; b <= 8; ++b) {
      const LloydMaxCodebook& cb = LloydMaxCodebook::get(d, b);
      const double dist = cb.coordinate_mse() * d;
      EXPECT_LT(dist, std::sqrt(3.0) * M_PI / 2 * std::pow(4.0, -b)) << "upper bound d=" << d << " b=" << b;
      EXPECT_GT(dist, std::pow(4.0, -b)) << "lower bound d=" << d << " b=" << b;
      if (b <= 4) EXPECT_NEAR(dist / measured[b - 1], 1.0, 0.05) << "d=" << d << " b=" << b;
    }
  }
}

TEST(LloydMaxCodebook, CentroidsAreCellMeansAndBoundariesMidpoints) {
  for (int d : {1, 2, 3, 5, 100}) {
    for (int b = 1; b <= 8; ++b) {
      const LloydMaxCodebook cb(d, b);
      const auto& c = cb.centroids();
      const auto& bd = cb.boundaries();
      ASSERT_EQ(bd.size(), c.size() - 1);
      for (size_t i = 0; i + 1 < c.size(); ++i) {
        EXPECT_LT(c[i], c[i + 1]) << "increasing d=" << d << " b=" << b;
        EXPECT_FLOAT_EQ(bd[i], 0.5f * (c[i] + c[i + 1]));
      }
      EXPECT_GE(c.front(), -1.0f);
      EXPECT_LE(c.back(), 1.0f);
    }
  }
}

TEST(LloydMaxCodebook, QuantizeReturnsNearestCentroid) {
  const LloydMaxCodebook& cb = LloydMaxCodebook::get(128, 3);
  for (float t = -0.5f; t <= 0.5f; t += 0.001f) {
    const int q = cb.quantize(t);
    for (int j = 0; j < cb.size(); ++j) EXPECT_LE(std::abs(t - cb.centroids()[q]), std::abs(t - cb.centroids()[j]) + 1e-7f);
  }
}

TEST(LloydMaxCodebook, CacheReturnsSameObject) {
  EXPECT_EQ(&LloydMaxCodebook::get(100, 4), &LloydMaxCodebook::get(100, 4));
  EXPECT_NE(&LloydMaxCodebook::get(100, 4), &LloydMaxCodebook::get(100, 3));
}

TEST(LloydMaxCodebook, PrefixCentroidsAreConditionalMeansOfMergedCells) {
  // Large d: the coordinate is N(0, σ²), σ = 1/√d, and the mean over [a, b] is σ·(φ(a/σ) − φ(b/σ)) / (Φ(b/σ) − Φ(a/σ)).
  const int d = 1 << 20;
  const double sigma = 1.0 / std::sqrt(double(d));
  auto phi = [](double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI); };
  auto Phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  for (int b = 2; b <= 4; ++b) {
    const LloydMaxCodebook cb(d, b);
    double total = 0;
    for (double m : cb.cell_probabilities()) total += m;
    EXPECT_NEAR(total, 1.0, 1e-9) << "b=" << b;
    EXPECT_EQ(cb.prefix_centroids(b), cb.centroids());
    for (int p = 1; p < b; ++p) {
      const std::vector<float> pc = cb.prefix_centroids(p);
      ASSERT_EQ(pc.size(), size_t(1) << p);
      const int s = b - p;
      for (size_t i = 0; i < pc.size(); ++i) {
        const size_t j0 = i << s, j1 = ((i + 1) << s) - 1;  // merged cells j0..j1
        const double lo = j0 == 0 ? -INFINITY : cb.boundaries()[j0 - 1] / sigma;
        const double hi = j1 + 1 == size_t(cb.size()) ? INFINITY : cb.boundaries()[j1] / sigma;
        const double expect = sigma * ((std::isinf(lo) ? 0 : phi(lo)) - (std::isinf(hi) ? 0 : phi(hi))) /
                              ((std::isinf(hi) ? 1 : Phi(hi)) - (std::isinf(lo) ? 0 : Phi(lo)));
        EXPECT_NEAR(pc[i] / sigma, expect / sigma, 1e-3) << "b=" << b << " prefix=" << p << " i=" << i;
        if (i > 0) EXPECT_GT(pc[i], pc[i - 1]);
      }
    }
  }
  // The 1-bit prefix of any codebook is ±E|t| (the 1-bit Lloyd–Max codebook for a symmetric density).
  const LloydMaxCodebook c4(300, 4), c1(300, 1);
  EXPECT_NEAR(c4.prefix_centroids(1)[1], c1.centroids()[1], 1e-4 * c1.centroids()[1]);
  EXPECT_THROW(c4.prefix_centroids(0), Error);
  EXPECT_THROW(c4.prefix_centroids(5), Error);
}

TEST(LloydMaxCodebook, RejectsBadArguments) {
  EXPECT_THROW(LloydMaxCodebook(0, 4), Error);
  EXPECT_THROW(LloydMaxCodebook(100, 0), Error);
  EXPECT_THROW(LloydMaxCodebook(100, 9), Error);
  EXPECT_THROW(LloydMaxCodebook::get(100, 9), Error);
}

}  // namespace
}  // namespace tqsearch
