// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/gpu_brute_force.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <set>

#include "gpu_test_util.h"
#include "quant/error.h"

namespace tqsearch::gpu {
namespace {

/// Exact top-k in double on the CPU: (score, id) with score = IP or −L2.
std::vector<std::vector<std::pair<double, int64_t>>> exact(const std::vector<float>& x, const std::vector<float>& q,
                                                           int d, int k, Metric m) {
  const size_t n = x.size() / d, nq = q.size() / d;
  std::vector<std::vector<std::pair<double, int64_t>>> out(nq);
  for (size_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, int64_t>> all(n);
    for (size_t v = 0; v < n; ++v) {
      double s = 0;
      for (int j = 0; j < d; ++j) {
        const double a = q[i * d + j], b = x[v * d + j];
        s += m == Metric::kL2 ? -(a - b) * (a - b) : a * b;
      }
      all[v] = {s, int64_t(v)};
    }
    std::partial_sort(all.begin(), all.begin() + k, all.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    all.resize(k);
    out[i] = all;
  }
  return out;
}

TEST(GpuBruteForce, Fp32MatchesExactUpToTies) {
  TQ_REQUIRE_GPU();
  const int d = 40, k = 10;
  const uint64_t seed = 77;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  const std::vector<float> x = testing::clustered(5000, d, 20, 0.5f, seed);
  const std::vector<float> q = testing::clustered(30, d, 20, 0.5f, seed + 1);
  for (Metric m : {Metric::kInnerProduct, Metric::kL2}) {
    GpuBruteForce bf(d, m, BruteForcePrecision::kFp32);
    bf.add(2000, x.data());
    bf.add(3000, x.data() + 2000 * d);
    std::vector<float> D(30 * k, NAN);
    std::vector<int64_t> I(30 * k, -7);
    bf.search(30, q.data(), k, D.data(), I.data());
    const auto ref = exact(x, q, d, k, m);
    for (size_t i = 0; i < 30; ++i) {
      const double kth = ref[i][k - 1].first;
      for (int r = 0; r < k; ++r) {
        const int64_t id = I[i * k + r];
        ASSERT_GE(id, 0);
        // The returned vector's exact score is at least the exact k-th score, up to float rounding (tie).
        double s = 0;
        for (int j = 0; j < d; ++j) {
          const double a = q[i * d + j], b = x[id * d + j];
          s += m == Metric::kL2 ? -(a - b) * (a - b) : a * b;
        }
        EXPECT_GE(s, kth - 1e-4 * (1 + std::abs(kth))) << "query " << i << " rank " << r;
        const double dist = m == Metric::kL2 ? -s : s;
        EXPECT_NEAR(D[i * k + r], dist, 1e-3 * (1 + std::abs(dist)));
      }
    }
  }
}

TEST(GpuBruteForce, Fp16RecallIsHigh) {
  TQ_REQUIRE_GPU();
  const int d = 64, k = 10;
  const std::vector<float> x = testing::clustered(8000, d, 50, 0.5f, 5);
  const std::vector<float> q = testing::clustered(50, d, 50, 0.5f, 6);
  GpuBruteForce bf(d, Metric::kInnerProduct, BruteForcePrecision::kFp16);
  bf.add(8000, x.data());
  std::vector<float> D(50 * k);
  std::vector<int64_t> I(50 * k);
  bf.search(50, q.data(), k, D.data(), I.data());
  const auto ref = exact(x, q, d, k, Metric::kInnerProduct);
  size_t hits = 0;
  for (size_t i = 0; i < 50; ++i) {
    std::set<int64_t> t;
    for (const auto& p : ref[i]) t.insert(p.second);
    for (int r = 0; r < k; ++r) hits += t.count(I[i * k + r]);
  }
  const double recall = double(hits) / (50.0 * k);
  std::printf("fp16 brute force 10-recall@10 = %.4f\n", recall);
  EXPECT_GE(recall, 0.95);  // fp16 rounding of vectors and scores only
}

}  // namespace
}  // namespace tqsearch::gpu
