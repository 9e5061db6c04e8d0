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

TEST(LloydMaxCodebook, RejectsBadArguments) {
  EXPECT_THROW(LloydMaxCodebook(0, 4), Error);
  EXPECT_THROW(LloydMaxCodebook(100, 0), Error);
  EXPECT_THROW(LloydMaxCodebook(100, 9), Error);
  EXPECT_THROW(LloydMaxCodebook::get(100, 9), Error);
}

}  // namespace
}  // namespace tqsearch
