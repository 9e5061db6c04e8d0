// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/exact_knn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace tqsearch::cli {
namespace {

/// Brute force in double precision, ties to the smaller id: the reference.
std::vector<int64_t> reference(const std::vector<float>& base, const std::vector<float>& q, size_t d, size_t k,
                               bool ip) {
  const size_t nb = base.size() / d, nq = q.size() / d;
  std::vector<int64_t> out(nq * k, -1);
  for (size_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, int64_t>> all(nb);
    for (size_t j = 0; j < nb; ++j) {
      double s = 0;
      for (size_t c = 0; c < d; ++c) {
        const double a = q[i * d + c], b = base[j * d + c];
        s += ip ? -a * b : (a - b) * (a - b);
      }
      all[j] = {s, int64_t(j)};
    }
    std::sort(all.begin(), all.end());
    for (size_t j = 0; j < std::min(k, nb); ++j) out[i * k + j] = all[j].second;
  }
  return out;
}

TEST(ExactKnn, MatchesDoublePrecisionBruteForceOnIntegerData) {
  // Small integer coordinates: every distance is exact in float32, so results must match exactly, ties included
  // (ties are frequent with values in 0..3).
  const uint32_t seed = 99;
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(0, 3);
  const size_t d = 7, nb = 9000, nq = 1100, k = 20;  // several base and query blocks
  std::vector<float> base(nb * d), q(nq * d);
  for (auto& x : base) x = float(u(rng));
  for (auto& x : q) x = float(u(rng));
  for (bool ip : {false, true}) {
    size_t last_progress = 0;
    const ExactKnnResult r = exact_knn(base.data(), nb, q.data(), nq, d, k, ip, [&](size_t done) {
      EXPECT_GT(done, last_progress);
      last_progress = done;
    });
    EXPECT_EQ(last_progress, nb);
    ASSERT_EQ(r.ids.size(), nq * k);
    EXPECT_EQ(r.ids, reference(base, q, d, k, ip)) << (ip ? "inner product" : "L2");
    // distances are the true values
    const size_t qi = 5, id = size_t(r.ids[qi * k]);
    double s = 0;
    for (size_t c = 0; c < d; ++c) {
      const double a = q[qi * d + c], b = base[id * d + c];
      s += ip ? a * b : (a - b) * (a - b);
    }
    EXPECT_EQ(double(r.distances[qi * k]), s);
  }
}

TEST(ExactKnn, KLargerThanTheBasePadsWithMinusOne) {
  const std::vector<float> base = {0, 0, 1, 1, 2, 2}, q = {0.9f, 0.9f};
  const ExactKnnResult r = exact_knn(base.data(), 3, q.data(), 1, 2, 5, false);
  EXPECT_EQ(r.ids, (std::vector<int64_t>{1, 0, 2, -1, -1}));
}

}  // namespace
}  // namespace tqsearch::cli
