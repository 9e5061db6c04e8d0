// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/flat_scanner.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "quant/error.h"
#include "test_data.h"

namespace tqsearch {
namespace {

// Exact top-k by inner product (or L2) in double.
std::vector<int64_t> exact_topk(const std::vector<float>& x, const std::vector<float>& q, int d, int k, bool l2) {
  const size_t n = x.size() / d, nq = q.size() / d;
  std::vector<int64_t> out(nq * k);
  for (size_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, int64_t>> s(n);
    for (size_t v = 0; v < n; ++v) {
      double a = 0;
      for (int j = 0; j < d; ++j) {
        const double t = l2 ? double(x[v * d + j]) - q[i * d + j] : double(x[v * d + j]) * q[i * d + j];
        a += l2 ? -t * t : t;
      }
      s[v] = {-a, int64_t(v)};
    }
    std::partial_sort(s.begin(), s.begin() + k, s.end());
    for (int r = 0; r < k; ++r) out[i * k + r] = s[r].second;
  }
  return out;
}

double recall_at(const std::vector<int64_t>& got, const std::vector<int64_t>& truth, size_t nq, int k) {
  size_t hit = 0;
  for (size_t i = 0; i < nq; ++i) {
    std::set<int64_t> t(truth.begin() + i * k, truth.begin() + (i + 1) * k);
    for (int r = 0; r < k; ++r) hit += t.count(got[i * k + r]);
  }
  return double(hit) / (nq * k);
}

struct Built {
  std::unique_ptr<TurboQuantizer> tq;
  std::vector<uint8_t> rows;
  std::unique_ptr<FlatScanner> scanner;
};

Built build(const std::vector<float>& x, int d, const TurboQuantizerOptions& o, Metric m,
            const FlatLayout& layout = {}) {
  Built b;
  b.tq = std::make_unique<TurboQuantizer>(d, o);
  const size_t n = x.size() / d;
  b.rows.resize(n * b.tq->code_size());
  b.tq->encode(n, x.data(), b.rows.data());
  b.scanner = std::make_unique<FlatScanner>(*b.tq, m, layout);
  b.scanner->add(n, b.rows.data());
  return b;
}

// The estimator's own top-k for one prepared query, by brute force over every code: (−score, row) pairs sorted
// best first (score = the IP estimate, or 2·ip − ‖x‖² for L2, as FlatScanner ranks).
std::vector<std::pair<float, int64_t>> estimator_topk(const Built& b, const PreparedQuery& pq, size_t n, int k,
                                                      Estimator e, Metric m) {
  std::vector<std::pair<float, int64_t>> s(n);
  for (size_t v = 0; v < n; ++v) {
    const uint8_t* c = b.rows.data() + v * b.tq->code_size();
    const float ip = b.tq->inner_product(pq, c, e);
    const float nx = b.tq->factors(c).norm;
    s[v] = {m == Metric::kL2 ? -(2 * ip - nx * nx) : -ip, int64_t(v)};
  }
  std::partial_sort(s.begin(), s.begin() + k, s.end());
  return s;
}

// With every vector reranked, the scanner returns exactly the estimator's own top-k: the scan only selects.
TEST(FlatScanner, FullRerankEqualsBruteForceOverTheEstimator) {
  const int d = 64, k = 10;
  const size_t n = 3000, nq = 20;
  auto x = testing::clustered(n, d, 20, 3);
  auto q = testing::gaussian(nq, d, 4);
  for (Metric m : {Metric::kInnerProduct, Metric::kL2}) {
    for (Estimator e : {Estimator::kMse, Estimator::kRenorm, Estimator::kQjl}) {
      TurboQuantizerOptions o;
      o.bits = 2;
      o.store_renorm = true;
      o.qjl = true;
      Built b = build(x, d, o, m);
      FlatSearchParams p;
      p.estimator = e;
      p.rerank_factor = int(n / k) + 1;
      p.qjl_prune_z = 0;
      std::vector<float> D(nq * k);
      std::vector<int64_t> I(nq * k);
      b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
      for (size_t i = 0; i < nq; ++i) {
        const PreparedQuery pq = b.tq->prepare_query(q.data() + i * d);
        const auto s = estimator_topk(b, pq, n, k, e, m);
        for (int r = 0; r < k; ++r) {
          EXPECT_EQ(I[i * k + r], s[r].second) << "query " << i << " rank " << r;
          const float want = m == Metric::kL2 ? pq.norm * pq.norm + s[r].first : -s[r].first;
          EXPECT_NEAR(D[i * k + r], want, 1e-4f * (1 + std::abs(want)));
        }
      }
    }
  }
}

// Codes with fold_renorm (‖x‖/ρ in one f32 or f16 slot) go through the same pipeline, full and prefix layouts: with
// every row reranked the result is the renormalized estimator's own top-k. L2 (needs ‖x‖²) is refused.
TEST(FlatScanner, FoldedScaleCodesRankByTheRenormalizedEstimate) {
  const int d = 96, k = 10;
  const size_t n = 3000, nq = 12;
  auto x = testing::clustered(n, d, 30, 51);
  auto q = testing::clustered(nq, d, 30, 52);
  for (bool fp16 : {false, true}) {
    for (int scan_bits : {0, 2}) {
      TurboQuantizerOptions o;
      o.bits = 4;
      o.store_renorm = true;
      o.fold_renorm = true;
      o.fp16_norm = fp16;
      Built b = build(x, d, o, Metric::kInnerProduct, FlatLayout{scan_bits});
      FlatSearchParams p;
      p.estimator = Estimator::kRenorm;
      p.rerank_factor = int(n / k) + 1;
      p.prefix_z = 1e6f;
      std::vector<float> D(nq * k);
      std::vector<int64_t> I(nq * k);
      b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
      for (size_t i = 0; i < nq; ++i) {
        const PreparedQuery pq = b.tq->prepare_query(q.data() + i * d);
        const auto s = estimator_topk(b, pq, n, k, Estimator::kRenorm, Metric::kInnerProduct);
        for (int r = 0; r < k; ++r) {
          EXPECT_EQ(I[i * k + r], s[r].second) << "fp16 " << fp16 << " scan_bits " << scan_bits << " query " << i;
          EXPECT_EQ(D[i * k + r], -s[r].first) << "fp16 " << fp16 << " scan_bits " << scan_bits << " query " << i;
        }
      }
      p.estimator = Estimator::kMse;
      EXPECT_THROW(b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data()), Error);
      EXPECT_THROW(FlatScanner(*b.tq, Metric::kL2, FlatLayout{scan_bits}), Error);
    }
  }
}

// The rerank list is the exact top k·rerank_factor of the scan scores by (score desc, row asc), whatever collects
// it: lists of up to 128 keep their threshold in a sorted array, longer ones in a heap. Checked against a brute-force
// pipeline (accumulator kernel → mult·(scale·acc + bias) → top-cap → renorm estimate → top-k), on data with
// duplicated rows so that scan scores tie at the threshold.
TEST(FlatScanner, RerankListIsTheExactTopOfTheScanScoresOnBothSidesOfTheSortedCap) {
  const int d = 100;
  const size_t nq = 6;
  auto x = testing::clustered(4000, d, 20, 31);
  const auto xd = x;
  x.insert(x.end(), xd.begin(), xd.end());  // every row twice: equal codes, equal scan scores
  const size_t n = x.size() / d;
  auto q = testing::gaussian(nq, d, 32);
  TurboQuantizerOptions o;
  o.bits = 4;
  o.store_renorm = true;
  Built b = build(x, d, o, Metric::kInnerProduct);
  const TurboQuantizer& tq = *b.tq;
  const FastScanCodes& codes = b.scanner->scan_codes();
  const size_t nb = codes.num_blocks();
  // rerank_factor 1: the k results are the rerank list itself, reordered. Caps 91 and 126 (sorted array), 133 and
  // 280 (heap); the odd caps end inside a pair of equal scores, where the smaller row must win.
  for (int k : {91, 126, 133, 280}) {
    FlatSearchParams p;
    p.estimator = Estimator::kRenorm;
    p.rerank_factor = 1;
    p.rerank_min = 1;
    std::vector<float> D(nq * k);
    std::vector<int64_t> I(nq * k);
    b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
    const size_t cap = size_t(k);
    for (size_t i = 0; i < nq; ++i) {
      const PreparedQuery pq = tq.prepare_query(q.data() + i * d);
      QueryLut L;
      codes.build_lut(pq.rotated.data(), &L);
      std::vector<int32_t> acc(nb * 32);
      const void* lp[1] = {L.lut.data()};
      internal::scan_blocks(SimdLevel::kScalar, codes, codes.data(), nb, lp, 1, acc.data(), nb * 32);
      std::vector<std::pair<float, int64_t>> scan(n);  // (−score, row): ascending = best first, smaller row on ties
      for (size_t v = 0; v < n; ++v) {
        const VectorFactors f = tq.factors(b.rows.data() + v * tq.code_size());
        const float mult = f.norm / f.renorm;
        const float t = static_cast<float>(acc[v]) * L.scale + L.bias;
        scan[v] = {-(mult * t), int64_t(v)};
      }
      std::sort(scan.begin(), scan.end());
      if (cap % 2 == 1) ASSERT_EQ(scan[cap - 1].first, scan[cap].first) << "cap " << cap << " splits a duplicate pair";
      std::vector<std::pair<float, int64_t>> re;
      for (size_t c = 0; c < cap; ++c) {
        const int64_t v = scan[c].second;
        re.push_back({-tq.inner_product(pq, b.rows.data() + size_t(v) * tq.code_size(), Estimator::kRenorm), v});
      }
      std::sort(re.begin(), re.end());
      for (int r = 0; r < k; ++r) {
        EXPECT_EQ(I[i * k + r], re[r].second) << "k " << k << " query " << i << " rank " << r;
        EXPECT_EQ(D[i * k + r], -re[r].first) << "k " << k << " query " << i << " rank " << r;
      }
    }
  }
}

TEST(FlatScanner, RecallOnClusteredDataAgainstExactSearch) {
  const int d = 128, k = 10;
  const size_t n = 20000, nq = 100;
  auto x = testing::clustered(n, d, 200, 11);
  auto q = testing::clustered(nq, d, 200, 12);
  const auto truth = exact_topk(x, q, d, k, false);
  // Floors measured on this data (seeded) with ≈0.05 margin: 4-bit renorm 0.667, 2-bit 0.247. The clusters are
  // tight (per-axis spread ≈ 0.17 against centers of norm ≈ √d), so ranking inside a cluster hinges on small
  // differences that the data-oblivious quantization noise (≈ ‖q‖·‖x‖·√(D_b/d)) partly hides: the hard regime
  // FIELD.md describes for SIFT, where trained codes win.
  for (auto [bits, floor] : {std::pair{4.0, 0.62}, std::pair{2.0, 0.20}}) {
    TurboQuantizerOptions o;
    o.bits = bits;
    o.store_renorm = true;
    Built b = build(x, d, o, Metric::kInnerProduct);
    FlatSearchParams p;
    p.estimator = Estimator::kRenorm;
    std::vector<float> D(nq * k);
    std::vector<int64_t> I(nq * k);
    b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
    const double r = recall_at(I, truth, nq, k);
    std::printf("clustered 20k x 128, %g bits renorm: 10-recall@10 = %.3f\n", bits, r);
    EXPECT_GE(r, floor) << bits << " bits";
  }
}

TEST(FlatScanner, RecallOnGloveSubset) {
  int d = 0, dq = 0;
  auto x = testing::read_fvecs(testing::data_path("glove-100-angular/base.fvecs"), &d, 20000);
  auto q = testing::read_fvecs(testing::data_path("glove-100-angular/query.fvecs"), &dq, 200);
  if (x.empty() || q.empty()) GTEST_SKIP() << "glove-100-angular not found under " << TQSEARCH_DATA_DIR;
  const int k = 10;
  const size_t nq = q.size() / d;
  const auto truth = exact_topk(x, q, d, k, false);
  // FIELD.md (numpy model, 100k base): 4-bit renorm 0.871, mse 0.812; 2-bit renorm 0.570.
  struct R {
    double bits;
    Estimator e;
    double floor;
  };
  for (const R& c : {R{4, Estimator::kRenorm, 0.80}, R{4, Estimator::kMse, 0.75}, R{2, Estimator::kRenorm, 0.50}}) {
    TurboQuantizerOptions o;
    o.bits = c.bits;
    o.store_renorm = true;
    Built b = build(x, d, o, Metric::kInnerProduct);
    FlatSearchParams p;
    p.estimator = c.e;
    std::vector<float> D(nq * k);
    std::vector<int64_t> I(nq * k);
    b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
    const double r = recall_at(I, truth, nq, k);
    std::printf("glove 20k, %g bits est %u: 10-recall@10 = %.3f\n", c.bits, unsigned(c.e), r);
    EXPECT_GE(r, c.floor);
  }
}

TEST(FlatScanner, SameResultsOnEverySimdLevelAndThreadSplit) {
  const int d = 100, k = 7;
  const size_t n = 5000, nq = 9;
  auto x = testing::clustered(n, d, 30, 21);
  auto q = testing::gaussian(nq, d, 22);
  for (double bits : {1.0, 2.0, 4.0, 2.5, 8.0, -4.0, -8.0, -3.5}) {  // negative: prefix layout
    TurboQuantizerOptions o;
    o.bits = std::abs(bits);
    FlatLayout layout;
    if (bits < 0) layout.scan_bits = 2;
    Built b = build(x, d, o, Metric::kL2, layout);
    std::vector<float> D0(nq * k), D1(nq * k);
    std::vector<int64_t> I0(nq * k), I1(nq * k);
    FlatSearchParams p;
    p.level = SimdLevel::kScalar;
    omp_set_num_threads(1);
    b.scanner->search(nq, q.data(), b.rows.data(), k, p, D0.data(), I0.data());
    omp_set_num_threads(2);
    for (SimdLevel lv : all_simd_levels()) {
      if (!simd_level_supported(lv)) continue;
      p.level = lv;
      for (int qb : {1, 3, 4}) {
        p.query_batch = qb;
        b.scanner->search(nq, q.data(), b.rows.data(), k, p, D1.data(), I1.data());
        EXPECT_EQ(I0, I1) << simd_level_name(lv) << " batch " << qb << " bits " << bits;
        EXPECT_EQ(D0, D1);
      }
      p.split_min_blocks = 1;  // force the split-codes path on this small set
      b.scanner->search(1, q.data(), b.rows.data(), k, p, D1.data(), I1.data());  // codes split across threads
      p.split_min_blocks = FlatSearchParams{}.split_min_blocks;
      // Prefix layouts rescore the rows that pass each thread's own running bound: a split scan may rescore more
      // rows, so only the full layout promises identical ids there.
      if (bits > 0) EXPECT_TRUE(std::equal(I0.begin(), I0.begin() + k, I1.begin())) << simd_level_name(lv);
    }
  }
}

// A prefix layout whose bound admits every row rescores every row: the estimator's exact top-k, as with a full
// rerank; with the default z its scores are still the estimator's own values and its recall matches the full
// layout's.
TEST(FlatScanner, PrefixLayoutRescoresWithTheFullCodes) {
  const int d = 96, k = 10;
  const size_t n = 4000, nq = 25;
  auto x = testing::clustered(n, d, 40, 31);
  auto q = testing::clustered(nq, d, 40, 32);
  for (Metric m : {Metric::kInnerProduct, Metric::kL2}) {
    for (Estimator e : {Estimator::kMse, Estimator::kRenorm, Estimator::kQjl}) {
      // lut_max 63: the prefix scan on coarse LUTs (byte sums of four lookups), whose rounding the bound adds.
      for (auto [bits, lut_max] : {std::pair{4.0, 255}, {3.0, 255}, {8.0, 255}, {3.5, 255}, {4.0, 63}, {8.0, 63}}) {
        TurboQuantizerOptions o;
        o.bits = bits;
        o.store_renorm = true;
        o.qjl = e == Estimator::kQjl;
        Built b = build(x, d, o, m, FlatLayout{2});
        const std::string what = std::string(m == Metric::kL2 ? "l2" : "ip") + " estimator " +
                                 std::to_string(int(e)) + " bits " + std::to_string(bits) + " lut_max " +
                                 std::to_string(lut_max);
        std::vector<float> D(nq * k);
        std::vector<int64_t> I(nq * k);
        FlatSearchParams p;
        p.estimator = e;
        p.lut_max = lut_max;
        p.prefix_z = 1e6f;  // every row passes
        FlatSearchStats st;
        b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data(), &st);
        EXPECT_EQ(st.reranked, nq * n) << what;
        for (size_t i = 0; i < nq; ++i) {
          const PreparedQuery pq = b.tq->prepare_query(q.data() + i * d);
          const auto s = estimator_topk(b, pq, n, k, e, m);
          for (int r = 0; r < k; ++r) {
            ASSERT_EQ(I[i * k + r], s[r].second) << what << " query " << i << " rank " << r;
            const float want = m == Metric::kL2 ? pq.norm * pq.norm + s[r].first : -s[r].first;
            ASSERT_EQ(D[i * k + r], want) << what;  // the same float: rescoring is the estimator's arithmetic
          }
        }
        // Default z: fewer rows read in full, the same estimator values for what is returned, recall close to the
        // full layout's (measured equal on GloVe and SIFT; here within 0.03 on 250 neighbours).
        p.prefix_z = FlatSearchParams{}.prefix_z;
        FlatSearchStats st2;
        std::vector<float> D2(nq * k);
        std::vector<int64_t> I2(nq * k);
        b.scanner->search(nq, q.data(), b.rows.data(), k, p, D2.data(), I2.data(), &st2);
        EXPECT_LT(st2.reranked, nq * n / 2) << what;
        EXPECT_GE(recall_at(I2, I, nq, k), 0.97) << what;
        for (size_t i = 0; i < nq; ++i) {
          const PreparedQuery pq = b.tq->prepare_query(q.data() + i * d);
          for (int r = 0; r < k; ++r) {
            const uint8_t* c = b.rows.data() + size_t(I2[i * k + r]) * b.tq->code_size();
            const float ip = b.tq->inner_product(pq, c, e);
            const float nx = b.tq->factors(c).norm;
            const float want = m == Metric::kL2 ? pq.norm * pq.norm - (2 * ip - nx * nx) : ip;
            ASSERT_EQ(D2[i * k + r], want) << what;
          }
        }
      }
    }
  }
  TurboQuantizerOptions o;
  Built b = build(x, d, o, Metric::kInnerProduct, FlatLayout{2});
  FlatSearchParams p;
  p.prefix_z = -1;
  std::vector<float> D(k);
  std::vector<int64_t> I(k);
  EXPECT_THROW(b.scanner->search(1, q.data(), b.rows.data(), k, p, D.data(), I.data()), Error);
  for (double bits : {1.0, 2.0, 2.5, 3.0, 4.0}) {
    o.bits = bits;
    EXPECT_EQ(FlatLayout::recommended(TurboQuantizer(d, o)).scan_bits, 0) << bits;
  }
  for (double bits : {4.5, 6.0, 8.0}) {
    o.bits = bits;
    EXPECT_EQ(FlatLayout::recommended(TurboQuantizer(d, o)).scan_bits, 2) << bits;
  }
}

// Coarse LUTs (lut_max 63/127) make the scan bounded: the returned scores are the estimator's own values and the
// recall stays that of the finest LUT, also on uncentered clustered L2 data where a plain 6-bit scan + rerank list
// lost many neighbours (far from the origin, neighbours differ by little against ‖q‖·‖x‖).
TEST(FlatScanner, CoarseLutScanKeepsRecallAndExactScores) {
  const int d = 96, k = 10;
  const size_t n = 8000, nq = 40;
  auto x = testing::clustered(n, d, 60, 41);
  auto q = testing::clustered(nq, d, 60, 42);
  for (float& v : x) v += 0.5f;  // a common offset: the hard regime for data-oblivious codes of x/‖x‖
  for (float& v : q) v += 0.5f;
  for (Metric m : {Metric::kL2, Metric::kInnerProduct}) {
    for (Estimator e : {Estimator::kMse, Estimator::kRenorm}) {
      TurboQuantizerOptions o;
      o.store_renorm = true;
      Built b = build(x, d, o, m);
      const auto truth = exact_topk(x, q, d, k, m == Metric::kL2);
      FlatSearchParams p;
      p.estimator = e;
      std::vector<float> D(nq * k);
      std::vector<int64_t> I(nq * k);
      b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
      const double fine = recall_at(I, truth, nq, k);
      for (int lut_max : {127, 63}) {
        p.lut_max = lut_max;
        FlatSearchStats st;
        b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data(), &st);
        const double coarse = recall_at(I, truth, nq, k);
        std::printf("%s estimator %d lut_max %d: 10-recall@10 %.3f (lut_max 255: %.3f), %.0f rows rescored/query\n",
                    m == Metric::kL2 ? "l2" : "ip", int(e), lut_max, coarse, fine, double(st.reranked) / nq);
        EXPECT_GE(coarse, fine - 0.01) << lut_max;
        EXPECT_LT(st.reranked, nq * n / 4);
        for (size_t i = 0; i < nq; ++i) {
          const PreparedQuery pq = b.tq->prepare_query(q.data() + i * d);
          for (int r = 0; r < k; ++r) {
            const uint8_t* c = b.rows.data() + size_t(I[i * k + r]) * b.tq->code_size();
            const float ip = b.tq->inner_product(pq, c, e);
            const float nx = b.tq->factors(c).norm;
            ASSERT_EQ(D[i * k + r], m == Metric::kL2 ? pq.norm * pq.norm - (2 * ip - nx * nx) : ip);
          }
        }
      }
    }
  }
  TurboQuantizerOptions o;
  Built b = build(x, d, o, Metric::kInnerProduct);
  FlatSearchParams p;
  std::vector<float> D(k);
  std::vector<int64_t> I(k);
  p.lut_max = 100;
  EXPECT_THROW(b.scanner->search(1, q.data(), b.rows.data(), k, p, D.data(), I.data()), Error);
  p.lut_max = 63;
  p.lut_z = -1;
  EXPECT_THROW(b.scanner->search(1, q.data(), b.rows.data(), k, p, D.data(), I.data()), Error);
}

// The codes split across threads (few queries) must cover every block whatever team OpenMP gives — also from
// inside a caller's parallel region — and the bounded modes with a bound that admits every row stay exact there.
TEST(FlatScanner, SplitScanCoversEveryBlockAndBoundedModesStayExact) {
  const int d = 32;
  const size_t n = 4000, nq = 2;
  auto x = testing::clustered(n, d, 20, 51);
  auto q = testing::gaussian(nq, d, 52);
  for (int mode = 0; mode < 3; ++mode) {  // 0: full layout, 1: prefix layout, 2: coarse LUT
    TurboQuantizerOptions o;
    o.bits = mode == 1 ? 8 : 4;
    o.store_renorm = true;
    Built b = build(x, d, o, Metric::kL2, FlatLayout{mode == 1 ? 2 : 0});
    FlatSearchParams p;
    p.estimator = Estimator::kRenorm;
    p.rerank_factor = int(n);  // full layout: every row reranked
    p.prefix_z = 1e9f;
    p.lut_z = 1e9f;
    if (mode == 2) p.lut_max = 63;
    p.split_min_blocks = 1;
    for (int k : {1, 10, 900, int(n) + 5}) {
      std::vector<float> D(nq * k), Dn(nq * k);
      std::vector<int64_t> I(nq * k), In(nq * k);
      omp_set_num_threads(1);
      b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
      omp_set_num_threads(3);
      b.scanner->search(nq, q.data(), b.rows.data(), k, p, Dn.data(), In.data());  // split across 3 threads
      EXPECT_EQ(I, In) << "mode " << mode << " k " << k;
      EXPECT_EQ(D, Dn) << "mode " << mode << " k " << k;
      // From inside an outer parallel region (nested teams have one thread).
      std::vector<float> Do(nq * k);
      std::vector<int64_t> Io(nq * k);
#pragma omp parallel num_threads(2)
      {
#pragma omp single
        b.scanner->search(nq, q.data(), b.rows.data(), k, p, Do.data(), Io.data());
      }
      EXPECT_EQ(I, Io) << "nested, mode " << mode << " k " << k;
      // Brute force over the estimator.
      for (size_t i = 0; i < nq && k <= int(n); ++i) {
        const PreparedQuery pq = b.tq->prepare_query(q.data() + i * d);
        const auto s = estimator_topk(b, pq, n, k, Estimator::kRenorm, Metric::kL2);
        for (int r = 0; r < k; ++r) ASSERT_EQ(In[i * k + r], s[r].second) << "mode " << mode << " k " << k;
      }
    }
  }
  omp_set_num_threads(2);
}

// Bounded scans visit a pilot of evenly spaced chunks first (enough blocks here for one), then the rest: with
// exact duplicates among the rows (score ties), the result must still be the estimator's top-k with the smaller
// row first, as the full layout's ordered scan gives, on both sides of the pilot and across a thread split.
TEST(FlatScanner, BoundedScansAreExactWithTiesWhateverTheBlockOrder) {
  const int d = 48, k = 10;
  const size_t n = 20000, nq = 6, distinct = 300;  // 625 blocks: pilot chunks of 2 blocks
  const uint64_t seed = 61;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  const auto base = testing::clustered(distinct, d, 20, seed);
  std::vector<float> x(n * d);
  std::mt19937_64 rng(seed);
  for (size_t v = 0; v < n; ++v) {
    const size_t src = rng() % distinct;
    std::copy(base.begin() + src * d, base.begin() + (src + 1) * d, x.begin() + v * d);
  }
  auto q = testing::clustered(nq, d, 20, seed + 1);
  for (Metric m : {Metric::kInnerProduct, Metric::kL2}) {
    for (int mode = 1; mode <= 2; ++mode) {  // 1: prefix layout, 2: coarse LUT
      TurboQuantizerOptions o;
      o.bits = mode == 1 ? 8 : 4;
      o.store_renorm = true;
      Built b = build(x, d, o, m, FlatLayout{mode == 1 ? 2 : 0});
      FlatSearchParams p;
      p.estimator = Estimator::kRenorm;
      p.prefix_z = 1e9f;  // every row is rescored: the top-k is exact over all rows
      p.lut_z = 1e9f;
      if (mode == 2) p.lut_max = 63;
      p.split_min_blocks = 1;
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        std::vector<float> D(nq * k);
        std::vector<int64_t> I(nq * k);
        b.scanner->search(nq, q.data(), b.rows.data(), k, p, D.data(), I.data());
        for (size_t i = 0; i < nq; ++i) {
          const PreparedQuery pq = b.tq->prepare_query(q.data() + i * d);
          const auto s = estimator_topk(b, pq, n, k, Estimator::kRenorm, m);
          for (int r = 0; r < k; ++r) {
            ASSERT_EQ(I[i * k + r], s[r].second) << "mode " << mode << " threads " << threads << " query " << i
                                                 << " rank " << r;
            const float want = m == Metric::kL2 ? pq.norm * pq.norm + s[r].first : -s[r].first;
            ASSERT_EQ(D[i * k + r], want);
          }
        }
      }
    }
  }
  omp_set_num_threads(2);
}

TEST(FlatScanner, PadsWhenKExceedsTotalAndHandlesEmptyAndNoQueries) {
  const int d = 16;
  auto x = testing::gaussian(5, d, 1);
  TurboQuantizerOptions o;
  Built b = build(x, d, o, Metric::kInnerProduct);
  std::vector<float> D(8);
  std::vector<int64_t> I(8);
  FlatSearchParams p;
  b.scanner->search(1, x.data(), b.rows.data(), 8, p, D.data(), I.data());
  std::set<int64_t> ids(I.begin(), I.begin() + 5);
  EXPECT_EQ(ids, (std::set<int64_t>{0, 1, 2, 3, 4}));
  for (int r = 5; r < 8; ++r) {
    EXPECT_EQ(I[r], -1);
    EXPECT_EQ(D[r], -FLT_MAX);
  }
  b.scanner->search(0, nullptr, b.rows.data(), 3, p, nullptr, nullptr);  // nq = 0 is a no-op
  FlatScanner empty(*b.tq, Metric::kL2);
  empty.search(1, x.data(), nullptr, 2, p, D.data(), I.data());
  EXPECT_EQ(I[0], -1);
  EXPECT_EQ(D[1], FLT_MAX);
  EXPECT_THROW(b.scanner->search(1, x.data(), b.rows.data(), 0, p, D.data(), I.data()), Error);
  p.estimator = Estimator::kQjl;
  EXPECT_THROW(b.scanner->search(1, x.data(), b.rows.data(), 2, p, D.data(), I.data()), Error);
  std::vector<float> bad(x.begin(), x.begin() + d);
  bad[3] = std::nanf("");
  p.estimator = Estimator::kMse;
  EXPECT_THROW(b.scanner->search(1, bad.data(), b.rows.data(), 2, p, D.data(), I.data()), Error);
  // Bad parameters are rejected on an empty scanner too.
  for (int which = 0; which < 4; ++which) {
    FlatSearchParams bp;
    if (which == 0) bp.lut_max = 64;
    if (which == 1) bp.lut_z = -1;
    if (which == 2) bp.prefix_z = std::nanf("");
    if (which == 3) bp.split_min_blocks = 0;
    EXPECT_THROW(empty.search(1, x.data(), nullptr, 2, bp, D.data(), I.data()), Error) << which;
  }
}

TEST(FlatScanner, QjlPruningSkipsCandidatesAndKeepsResults) {
  const int d = 128, k = 10;
  const size_t n = 20000, nq = 50;
  auto x = testing::clustered(n, d, 100, 31);
  auto q = testing::clustered(nq, d, 100, 32);
  TurboQuantizerOptions o;
  o.bits = 3;
  o.qjl = true;
  Built b = build(x, d, o, Metric::kInnerProduct);
  FlatSearchParams p;
  p.estimator = Estimator::kQjl;
  p.rerank_factor = 50;  // a long candidate list, whose tail the confidence bound can drop
  std::vector<float> D0(nq * k), D1(nq * k);
  std::vector<int64_t> I0(nq * k), I1(nq * k);
  FlatSearchStats s0, s1;
  p.qjl_prune_z = 0;
  b.scanner->search(nq, q.data(), b.rows.data(), k, p, D0.data(), I0.data(), &s0);
  p.qjl_prune_z = 3;
  b.scanner->search(nq, q.data(), b.rows.data(), k, p, D1.data(), I1.data(), &s1);
  std::printf("reranked without pruning %zu, with %zu (pruned %zu)\n", s0.reranked, s1.reranked, s1.pruned);
  EXPECT_EQ(s0.pruned, 0u);
  EXPECT_GT(s1.pruned, 0u);
  EXPECT_EQ(s1.reranked + s1.pruned, s0.reranked);
  // A 3σ bound drops a true top-k member rarely: ≥ 99% of result ids agree.
  EXPECT_GE(recall_at(I1, I0, nq, k), 0.99);
}

}  // namespace
}  // namespace tqsearch
