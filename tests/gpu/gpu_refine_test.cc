// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Exact refine stage of GpuIndexTurboQuant (raw vectors kept on the GPU, as faiss::IndexRefineFlat): exact
// distances, recall, storage round trips, sharding, padding, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>

#include "gpu/gpu_index_turbo_quant.h"
#include "gpu_test_util.h"
#include "quant/error.h"

namespace tqsearch::gpu {
namespace {

using testing::clustered;

TurboQuantizerOptions opts4() {
  TurboQuantizerOptions o;
  o.bits = 4;
  o.store_renorm = true;
  return o;
}

/// Exact k-NN in double: distances as the index reports them (IP descending, squared L2 ascending).
void exact_search(const std::vector<float>& x, int d, const float* q, size_t nq, int k, Metric metric,
                  std::vector<double>* D, std::vector<int64_t>* I) {
  const size_t n = x.size() / d;
  D->assign(nq * k, 0);
  I->assign(nq * k, -1);
  std::vector<std::pair<double, int64_t>> all(n);
  for (size_t i = 0; i < nq; ++i) {
    for (size_t v = 0; v < n; ++v) {
      double s = 0;
      for (int j = 0; j < d; ++j) {
        const double a = q[i * d + j], b = x[v * d + j];
        s += metric == Metric::kL2 ? (a - b) * (a - b) : a * b;
      }
      all[v] = {metric == Metric::kL2 ? s : -s, int64_t(v)};  // ascending = best first
    }
    const size_t m = std::min<size_t>(k, n);
    std::partial_sort(all.begin(), all.begin() + m, all.end());
    for (size_t r = 0; r < m; ++r) {
      (*D)[i * k + r] = metric == Metric::kL2 ? all[r].first : -all[r].first;
      (*I)[i * k + r] = all[r].second;
    }
  }
}

/// GPU results against the exact double reference: distances within float rounding, ids equal except where the
/// reference itself has a near-tie at that rank (then the GPU's distance must still match the reference's).
void expect_exact(const std::vector<float>& Dg, const std::vector<int64_t>& Ig, const std::vector<double>& De,
                  const std::vector<int64_t>& Ie, size_t nq, int k, double scale, const std::string& what) {
  size_t id_diff = 0, bad = 0;
  for (size_t i = 0; i < nq * k; ++i) {
    const double tol = 1e-5 * scale + 1e-5 * std::fabs(De[i]);
    if (!(std::fabs(double(Dg[i]) - De[i]) <= tol)) {
      if (++bad <= 5)
        ADD_FAILURE() << what << " position " << i << ": GPU distance " << Dg[i] << " (id " << Ig[i] << "), exact "
                      << De[i] << " (id " << Ie[i] << ")";
    }
    id_diff += Ig[i] != Ie[i];
  }
  EXPECT_EQ(bad, 0u) << what;
  // Ids may differ only at near-ties; with continuous random data they are rare.
  EXPECT_LE(double(id_diff) / double(nq * k), 0.01) << what << ": " << id_diff << " ids differ";
}

TEST(GpuRefine, EqualsExactSearchWhenEveryVectorIsRefined) {
  TQ_REQUIRE_GPU();
  const int k = 10, nq = 30;
  const size_t n = 2000;
  for (int d : {96, 101}) {  // vector loads, scalar tail path
    const std::vector<float> x = clustered(n, d, 20, 0.5f, 31);
    const std::vector<float> q = clustered(nq, d, 20, 0.5f, 32);
    std::printf("seed 31/32, n=%zu d=%d\n", n, d);
    for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
      std::vector<double> De;
      std::vector<int64_t> Ie;
      exact_search(x, d, q.data(), nq, k, metric, &De, &Ie);
      double scale = 0;
      for (double v : De) scale = std::max(scale, std::fabs(v));
      for (int shards : {1, 3}) {
        for (int gemm : {0, 1}) {
          GpuIndexConfig cfg;
          cfg.refine = RefineStorage::kFp32;
          cfg.devices.assign(shards, 0);
          cfg.add_batch = 333;
          GpuIndexTurboQuant index(d, opts4(), metric, cfg);
          index.add(n / 2, x.data());
          index.add(n - n / 2, x.data() + (n / 2) * d);
          GpuSearchParams p;
          p.estimator = Estimator::kRenorm;
          p.rerank_factor = 0;
          p.refine_factor = static_cast<int>(n / k);  // every vector refined: exact search
          p.gemm_min_batch = gemm;
          std::vector<float> D(nq * k, std::numeric_limits<float>::quiet_NaN());
          std::vector<int64_t> I(nq * k, -7);
          GpuSearchStats st;
          index.search(nq, q.data(), k, p, D.data(), I.data(), &st);
          EXPECT_EQ(st.refined, size_t(nq) * n);
          char what[96];
          std::snprintf(what, sizeof what, "d=%d %s shards=%d gemm=%d", d, metric == Metric::kL2 ? "L2" : "IP",
                        shards, gemm);
          expect_exact(D, I, De, Ie, nq, k, scale, what);
        }
      }
    }
  }
}

TEST(GpuRefine, Fp16StorageIsExactOnTheRoundedVectors) {
  TQ_REQUIRE_GPU();
  const int d = 64, k = 10, nq = 25;
  const size_t n = 1500;
  const std::vector<float> x = clustered(n, d, 15, 0.5f, 41);
  const std::vector<float> q = clustered(nq, d, 15, 0.5f, 42);
  std::printf("seed 41/42\n");
  GpuIndexConfig cfg;
  cfg.refine = RefineStorage::kFp16;
  GpuIndexTurboQuant index(d, opts4(), Metric::kL2, cfg);
  index.add(n, x.data());
  EXPECT_EQ(index.refine_storage(), RefineStorage::kFp16);
  const std::vector<float> kept = index.vectors();
  ASSERT_EQ(kept.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {  // round to nearest fp16: relative error ≤ 2^-11 (normal range)
    ASSERT_LE(std::fabs(kept[i] - x[i]), std::ldexp(std::fabs(x[i]), -11) + 6e-8f) << "element " << i;
  }
  std::vector<double> De;
  std::vector<int64_t> Ie;
  exact_search(kept, d, q.data(), nq, k, Metric::kL2, &De, &Ie);
  GpuSearchParams p;
  p.estimator = Estimator::kRenorm;
  p.refine_factor = static_cast<int>(n / k);
  std::vector<float> D(nq * k);
  std::vector<int64_t> I(nq * k);
  index.search(nq, q.data(), k, p, D.data(), I.data());
  double scale = 0;
  for (double v : De) scale = std::max(scale, std::fabs(v));
  expect_exact(D, I, De, Ie, nq, k, scale, "fp16 storage");
  // The device memory includes the fp16 rows.
  EXPECT_GE(index.device_memory_bytes(), n * (index.code_size() + 2 * size_t(d)));
}

TEST(GpuRefine, RaisesRecallOnClusteredData) {
  TQ_REQUIRE_GPU();
  const int d = 128, k = 10, nq = 200;
  const size_t n = 20000;
  const std::vector<float> x = clustered(n, d, 64, 0.8f, 51);
  const std::vector<float> q = clustered(nq, d, 64, 0.8f, 52);
  std::printf("seed 51/52, n=%zu d=%d\n", n, d);
  std::vector<double> De;
  std::vector<int64_t> Ie;
  exact_search(x, d, q.data(), nq, k, Metric::kL2, &De, &Ie);
  auto recall = [&](const std::vector<int64_t>& I) {
    size_t hits = 0;
    for (int i = 0; i < nq; ++i) {
      const std::set<int64_t> t(Ie.begin() + i * k, Ie.begin() + (i + 1) * k);
      for (int r = 0; r < k; ++r) hits += t.count(I[i * k + r]);
    }
    return double(hits) / (nq * k);
  };
  for (RefineStorage storage : {RefineStorage::kFp16, RefineStorage::kFp32}) {
    GpuIndexConfig cfg;
    cfg.refine = storage;
    GpuIndexTurboQuant index(d, opts4(), Metric::kL2, cfg);
    index.add(n, x.data());
    std::vector<float> D(nq * k);
    std::vector<int64_t> I(nq * k);
    GpuSearchParams plain;
    plain.estimator = Estimator::kRenorm;
    plain.refine_factor = 0;
    index.search(nq, q.data(), k, plain, D.data(), I.data());
    const double r_plain = recall(I);
    GpuSearchParams refined = plain;
    refined.rerank_factor = 0;  // scan → refine directly
    refined.refine_factor = 8;
    index.search(nq, q.data(), k, refined, D.data(), I.data());
    const double r_ref = recall(I);
    std::printf("%s storage: 10-recall@10 TQ4 renorm %.4f, + refine x8 %.4f\n",
                storage == RefineStorage::kFp16 ? "fp16" : "fp32", r_plain, r_ref);
    EXPECT_GE(r_ref, 0.95);
    EXPECT_GT(r_ref, r_plain);
  }
}

TEST(GpuRefine, KeepsVectorsThroughAddCodesAndPadsResults) {
  TQ_REQUIRE_GPU();
  const int d = 40, n = 7, nq = 3, k = 12;  // k > ntotal
  const std::vector<float> x = clustered(n, d, 2, 0.5f, 61);
  const std::vector<float> q = clustered(nq, d, 2, 0.5f, 62);
  TurboQuantizer tq(d, opts4());
  std::vector<uint8_t> codes(n * tq.code_size());
  tq.encode(n, x.data(), codes.data());
  for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
    GpuIndexConfig cfg;
    cfg.refine = RefineStorage::kFp32;
    cfg.devices = {0, 0};
    GpuIndexTurboQuant index(d, opts4(), metric, cfg);
    index.add_codes(n, codes.data(), x.data());
    EXPECT_EQ(index.codes(), codes);
    EXPECT_EQ(index.vectors(), x);  // fp32 storage keeps the rows exactly
    std::vector<double> De;
    std::vector<int64_t> Ie;
    exact_search(x, d, q.data(), nq, k, metric, &De, &Ie);
    for (int gemm : {0, 1}) {
      GpuSearchParams p;
      p.gemm_min_batch = gemm;
      p.refine_factor = 1;
      std::vector<float> D(nq * k, std::numeric_limits<float>::quiet_NaN());
      std::vector<int64_t> I(nq * k, -7);
      index.search(nq, q.data(), k, p, D.data(), I.data());
      for (int i = 0; i < nq; ++i) {
        for (int r = 0; r < k; ++r) {
          const float v = D[i * k + r];
          ASSERT_FALSE(std::isnan(v)) << "unwritten distance at " << i << "," << r;
          if (r < n) {
            EXPECT_EQ(I[i * k + r], Ie[i * k + r]) << "query " << i << " rank " << r;
            EXPECT_NEAR(v, De[i * k + r], 1e-4 * (1 + std::fabs(De[i * k + r])));
          } else {
            EXPECT_EQ(I[i * k + r], -1);
            EXPECT_EQ(v, metric == Metric::kL2 ? FLT_MAX : -FLT_MAX);
          }
        }
      }
    }
  }
  GpuIndexTurboQuant plain(d, opts4(), Metric::kL2);
  plain.add_codes(n, codes.data());
  EXPECT_TRUE(plain.vectors().empty());
  EXPECT_EQ(plain.refine_storage(), RefineStorage::kNone);
}

TEST(GpuRefine, RejectsBadInput) {
  TQ_REQUIRE_GPU();
  const int d = 16, n = 20;
  std::vector<float> x = clustered(n, d, 2, 0.5f, 71);
  TurboQuantizer tq(d, opts4());
  std::vector<uint8_t> codes(n * tq.code_size());
  tq.encode(n, x.data(), codes.data());
  GpuIndexConfig cfg;
  cfg.refine = RefineStorage::kFp16;
  GpuIndexTurboQuant index(d, opts4(), Metric::kL2, cfg);
  try {  // codes without the vectors they encode
    index.add_codes(n, codes.data());
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("raw vectors"), std::string::npos) << e.what();
  }
  EXPECT_EQ(index.ntotal(), 0u);
  std::vector<float> big = x;
  big[5 * d + 3] = 1e6f;  // finite, but outside fp16
  try {
    index.add(n, big.data());
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 5 "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fp16"), std::string::npos) << e.what();
  }
  EXPECT_EQ(index.ntotal(), 0u);
  std::vector<float> nan = x;
  nan[2 * d] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(index.add_codes(n, codes.data(), nan.data()), Error);
  index.add(n, x.data());
  EXPECT_EQ(index.ntotal(), size_t(n));
  std::vector<float> D(10);
  std::vector<int64_t> I(10);
  GpuSearchParams neg;
  neg.refine_factor = -1;
  EXPECT_THROW(index.search(1, x.data(), 10, neg, D.data(), I.data()), Error);
  GpuSearchParams huge;
  huge.refine_factor = 1000;  // k·refine_factor beyond ntotal is clipped to ntotal: fine
  index.search(1, x.data(), 10, huge, D.data(), I.data());
  EXPECT_EQ(I[0], 0);
  GpuIndexConfig bad;
  bad.refine = static_cast<RefineStorage>(7);
  EXPECT_THROW(GpuIndexTurboQuant(d, opts4(), Metric::kL2, bad), Error);
}

}  // namespace
}  // namespace tqsearch::gpu
