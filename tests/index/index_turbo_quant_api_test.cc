// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// FAISS API conformance of IndexTurboQuant on its own: edge cases, mutation (remove/merge/reset), codec,
// reconstruction, range search, selectors, per-search parameters, distance computer, bad input.

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>

#include "index/index_turbo_quant.h"
#include "index_test_util.h"
#include "quant/error.h"

namespace tqsearch {
namespace {

using idx_t = faiss::Index::idx_t;
constexpr uint64_t kSeed = 12345;

testing::Dataset small_data(int d = 48, size_t nb = 3000, size_t nq = 20) {
  return testing::make_clustered(d, nb, nq, 16, kSeed);
}

struct Result {
  std::vector<float> D;
  std::vector<idx_t> I;
};

Result run_search(const faiss::Index& index, const testing::Dataset& ds, int k,
                  const faiss::SearchParameters* params = nullptr, size_t nq = SIZE_MAX) {
  nq = std::min(nq, ds.nq);
  Result r{std::vector<float>(nq * k), std::vector<idx_t>(nq * k)};
  index.search(idx_t(nq), ds.queries.data(), k, r.D.data(), r.I.data(), params);
  return r;
}

TEST(IndexTurboQuantApi, ConstructedTrainedAndTrainIsNoOp) {
  IndexTurboQuant index(32);
  EXPECT_TRUE(index.is_trained);
  EXPECT_EQ(index.metric_type, faiss::METRIC_INNER_PRODUCT);
  EXPECT_EQ(index.code_size, index.quantizer().code_size());
  std::vector<float> x(10 * 32, 1.0f);
  index.train(10, x.data());
  index.train(0, nullptr);
  EXPECT_EQ(index.ntotal, 0);
  EXPECT_TRUE(index.is_trained);
}

TEST(IndexTurboQuantApi, CosineReportsInnerProductMetric) {
  IndexTurboQuant index(16, IndexMetric::kCosine);
  EXPECT_EQ(index.metric_type, faiss::METRIC_INNER_PRODUCT);
  EXPECT_EQ(index.metric(), IndexMetric::kCosine);
  IndexTurboQuant l2(16, faiss::METRIC_L2);
  EXPECT_EQ(l2.metric(), IndexMetric::kL2);
  EXPECT_THROW(IndexTurboQuant(16, faiss::METRIC_L1), Error);
}

TEST(IndexTurboQuantApi, EmptyIndexAndZeroQueriesAreFine) {
  const auto ds = small_data();
  IndexTurboQuant index(ds.d, IndexMetric::kL2);
  const Result r = run_search(index, ds, 5, nullptr, 3);
  for (size_t i = 0; i < r.I.size(); ++i) {
    EXPECT_EQ(r.I[i], -1);
    EXPECT_EQ(r.D[i], FLT_MAX);
  }
  index.add(idx_t(ds.nb), ds.base.data());
  index.search(0, nullptr, 5, nullptr, nullptr);  // nq = 0: nothing read, nothing written
  index.add(0, nullptr);
  EXPECT_EQ(index.ntotal, idx_t(ds.nb));
}

TEST(IndexTurboQuantApi, KLargerThanNtotalPadsWithMinusOne) {
  const auto ds = small_data(24, 7, 4);
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kL2}) {
    IndexTurboQuant index(ds.d, m);
    index.add(7, ds.base.data());
    const Result r = run_search(index, ds, 12);
    for (size_t q = 0; q < ds.nq; ++q) {
      std::vector<idx_t> seen;
      for (int j = 0; j < 12; ++j) {
        const idx_t id = r.I[q * 12 + j];
        if (j < 7) {
          EXPECT_GE(id, 0);
          EXPECT_LT(id, 7);
          seen.push_back(id);
        } else {
          EXPECT_EQ(id, -1);
          EXPECT_EQ(r.D[q * 12 + j], m == IndexMetric::kL2 ? FLT_MAX : -FLT_MAX);
        }
      }
      std::sort(seen.begin(), seen.end());
      EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end()) << "duplicate ids for query " << q;
    }
  }
}

TEST(IndexTurboQuantApi, DistancesAreSortedAndAgreeWithDistanceComputer) {
  const auto ds = small_data();
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kL2, IndexMetric::kCosine}) {
    IndexTurboQuant index(ds.d, m);
    index.add(idx_t(ds.nb), ds.base.data());
    const int k = 10;
    const Result r = run_search(index, ds, k);
    std::unique_ptr<faiss::DistanceComputer> dc(index.get_distance_computer());
    for (size_t q = 0; q < ds.nq; ++q) {
      dc->set_query(ds.queries.data() + q * ds.d);
      for (int j = 0; j < k; ++j) {
        const float dist = r.D[q * k + j];
        if (j > 0) {
          if (m == IndexMetric::kL2) {
            EXPECT_LE(r.D[q * k + j - 1], dist);
          } else {
            EXPECT_GE(r.D[q * k + j - 1], dist);
          }
        }
        // The reported distance is the rerank estimator's value, the one the distance computer computes.
        const float ref = (*dc)(r.I[q * k + j]);
        EXPECT_NEAR(dist, ref, 1e-3f * (1.0f + std::fabs(ref))) << index_metric_name(m) << " q=" << q << " j=" << j;
      }
    }
  }
}

TEST(IndexTurboQuantApi, RemoveIdsShiftsRowsAndSearchStillWorks) {
  const auto ds = small_data();
  IndexTurboQuant index(ds.d, IndexMetric::kL2);
  index.add(idx_t(ds.nb), ds.base.data());
  // Remove the even rows; the remaining rows are renumbered 0..nb/2−1 in order.
  struct EvenSelector : faiss::IDSelector {
    bool is_member(idx_t id) const override { return id % 2 == 0; }
  } even;
  EXPECT_EQ(index.remove_ids(even), ds.nb / 2);
  EXPECT_EQ(index.ntotal, idx_t(ds.nb / 2));
  // Same as an index built from the odd rows only (same rotation seed → same codes).
  IndexTurboQuant odd(ds.d, IndexMetric::kL2);
  std::vector<float> odd_rows;
  for (size_t i = 1; i < ds.nb; i += 2) odd_rows.insert(odd_rows.end(), &ds.base[i * ds.d], &ds.base[(i + 1) * ds.d]);
  odd.add(idx_t(ds.nb / 2), odd_rows.data());
  EXPECT_EQ(index.codes, odd.codes);
  const Result a = run_search(index, ds, 10), b = run_search(odd, ds, 10);
  EXPECT_EQ(a.I, b.I);
  EXPECT_EQ(a.D, b.D);
}

TEST(IndexTurboQuantApi, MergeFromAppendsAndResetsOther) {
  const auto ds = small_data();
  const size_t half = ds.nb / 2;
  IndexTurboQuant a(ds.d), b(ds.d), whole(ds.d);
  a.add(idx_t(half), ds.base.data());
  b.add(idx_t(ds.nb - half), ds.base.data() + half * ds.d);
  whole.add(idx_t(ds.nb), ds.base.data());
  a.merge_from(b);
  EXPECT_EQ(b.ntotal, 0);
  EXPECT_EQ(a.ntotal, idx_t(ds.nb));
  EXPECT_EQ(a.codes, whole.codes);
  const Result ra = run_search(a, ds, 10), rw = run_search(whole, ds, 10);
  EXPECT_EQ(ra.I, rw.I);
  EXPECT_EQ(ra.D, rw.D);
}

TEST(IndexTurboQuantApi, MergeFromRejectsIncompatibleIndexes) {
  IndexTurboQuant a(16);
  IndexTurboQuant other_dim(17);
  IndexTurboQuant other_metric(16, IndexMetric::kL2);
  IndexTurboQuantOptions o;
  o.quantizer.rotation.seed = 99;
  IndexTurboQuant other_seed(16, IndexMetric::kInnerProduct, o);
  EXPECT_THROW(a.merge_from(other_dim), Error);
  EXPECT_THROW(a.merge_from(other_metric), Error);
  EXPECT_THROW(a.merge_from(other_seed), Error);
  IndexTurboQuantOptions f;
  f.quantizer.fold_renorm = true;
  IndexTurboQuant other_fold(16, IndexMetric::kInnerProduct, f);  // ‖x‖/ρ in place of ‖x‖, ρ: other bytes
  EXPECT_THROW(a.merge_from(other_fold), Error);
  IndexTurboQuant same(16);
  EXPECT_THROW(a.merge_from(same, 5), Error);
  EXPECT_THROW(a.merge_from(a), Error);
}

// fold_renorm (‖x‖/ρ in one slot): the index ranks like the unfolded one — the same estimate up to float rounding
// (f32 slot) — for IP, cosine and centered IP; reconstruct is (‖x‖/ρ)·Πᵀŷ; L2 and the mse estimator are refused.
// Centered cosine ranks as L2 on centered data, which needs ‖x − μ‖: folded, it takes the IP form instead, i.e. it
// ranks like a centered IP index over the normalized rows (and keeps zero rows).
TEST(IndexTurboQuantApi, FoldedScaleIndexRanksLikeTheUnfoldedOne) {
  auto ds = small_data(64, 4000, 30);
  const int k = 10;
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kCosine}) {
    for (bool center : {false, true}) {
      IndexTurboQuantOptions o;
      o.center = center;
      const bool ip_form = m == IndexMetric::kCosine && center;
      testing::Dataset pd = ds;  // what the unfolded reference sees
      if (ip_form) {
        pd.base = testing::normalized(ds.base, ds.d);
        pd.queries = testing::normalized(ds.queries, ds.d);
      }
      IndexTurboQuant plain(ds.d, ip_form ? IndexMetric::kInnerProduct : m, o);
      o.quantizer.fold_renorm = true;
      IndexTurboQuant fold(ds.d, m, o);
      EXPECT_EQ(fold.code_size, plain.code_size - 4);
      EXPECT_FALSE(fold.ranks_as_l2());
      plain.train(idx_t(ds.nb), pd.base.data());
      plain.add(idx_t(ds.nb), pd.base.data());
      fold.train(idx_t(ds.nb), ds.base.data());
      fold.add(idx_t(ds.nb), ds.base.data());
      const Result a = run_search(plain, pd, k), b = run_search(fold, ds, k);
      // fold: fl(fl(‖x‖/ρ)·dot), unfolded: fl(fl(‖x‖·dot)/ρ): the estimates e differ by at most 4u|e| (u = 2^-24),
      // and adding ⟨q, μ⟩ = c (centered) rounds once more on each side: |ΔD| ≤ 4u|e| + 2u|D| ≤ 6u(|D| + |c|).
      // Ids may differ only where the unfolded index scores the folded pick within that of the unfolded one.
      const float u = std::ldexp(1.0f, -24);
      auto dc = plain.make_distance_computer(Estimator::kRenorm);
      for (size_t qi = 0; qi < ds.nq; ++qi) {
        const float* q = pd.queries.data() + qi * size_t(ds.d);
        const float c = std::abs(plain.mean_dot(q));
        dc->set_query(q);
        for (size_t j = qi * k; j < (qi + 1) * k; ++j) {
          const float tol = 6 * u * (std::abs(a.D[j]) + c) + 1e-12f;
          EXPECT_NEAR(b.D[j], a.D[j], tol) << "metric " << int(m) << " center " << center << " position " << j;
          if (a.I[j] != b.I[j]) {
            EXPECT_NEAR((*dc)(b.I[j]), a.D[j], 2 * tol) << "metric " << int(m) << " center " << center << " position " << j;
          }
        }
      }
      std::vector<float> ra(ds.d), rb(ds.d);
      for (idx_t key : {idx_t(0), idx_t(123)}) {
        plain.reconstruct(key, ra.data());
        fold.reconstruct(key, rb.data());
        const float rho = plain.quantizer().factors(plain.codes.data() + size_t(key) * plain.code_size).renorm;
        const std::vector<float>& mu = plain.mean();
        for (int j = 0; j < ds.d; ++j) {
          const float c = center ? mu[size_t(j)] : 0.0f;  // μ is added after scaling
          EXPECT_NEAR(rb[size_t(j)] - c, (ra[size_t(j)] - c) / rho, 1e-4f * (1 + std::abs(ra[size_t(j)])));
        }
      }
      if (ip_form) {  // a zero row is fine in the IP form: it scores ⟨q̂, 0 − μ⟩ + ⟨q̂, μ⟩ ≈ 0
        const std::vector<float> zero(size_t(ds.d), 0.0f);
        fold.add(1, zero.data());
        EXPECT_EQ(fold.ntotal, idx_t(ds.nb) + 1);
      }
      SearchParametersTurboQuant sp;
      sp.estimator = Estimator::kMse;
      std::vector<float> D(k);
      std::vector<idx_t> I(k);
      try {
        fold.search(1, ds.queries.data(), k, D.data(), I.data(), &sp);
        ADD_FAILURE() << "mse on folded codes was accepted";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("fold_renorm"), std::string::npos) << e.what();
      }
    }
  }
  IndexTurboQuantOptions o;
  o.quantizer.fold_renorm = true;
  try {
    IndexTurboQuant l2(16, IndexMetric::kL2, o);
    ADD_FAILURE() << "L2 with fold_renorm was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("‖x‖²"), std::string::npos) << e.what();
  }
  o.search.estimator = Estimator::kMse;
  EXPECT_THROW(IndexTurboQuant(16, IndexMetric::kInnerProduct, o), Error);
}

// add() encodes in chunks (512 rows at d = 2048); a row the quantizer refuses (‖x‖ above the float16 slot's 65504)
// is named by its number in the whole batch, and nothing is added.
TEST(IndexTurboQuantApi, AddNamesTheRowOfAQuantizerErrorAcrossChunks) {
  constexpr int d = 2048;
  const auto ds = testing::make_clustered(d, 600, 1, 8, kSeed);
  IndexTurboQuantOptions o;
  o.quantizer.fp16_norm = true;
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kL2}) {
    IndexTurboQuant index(d, m, o);
    std::vector<float> x = ds.base;
    double s = 0;
    for (int j = 0; j < d; ++j) s += double(x[size_t(550) * d + j]) * x[size_t(550) * d + j];
    for (int j = 0; j < d; ++j) x[size_t(550) * d + j] *= float(70000.0 / std::sqrt(s));
    try {
      index.add(600, x.data());
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("row 550 has norm"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("65504"), std::string::npos) << e.what();
    }
    EXPECT_EQ(index.ntotal, 0);
  }
}

TEST(IndexTurboQuantApi, ResetEmptiesIndexAndAllowsReuse) {
  const auto ds = small_data();
  IndexTurboQuant index(ds.d);
  index.add(idx_t(ds.nb), ds.base.data());
  const Result before = run_search(index, ds, 5);
  index.reset();
  EXPECT_EQ(index.ntotal, 0);
  EXPECT_TRUE(index.codes.empty());
  EXPECT_EQ(index.scanner().size(), 0u);
  index.add(idx_t(ds.nb), ds.base.data());
  const Result after = run_search(index, ds, 5);
  EXPECT_EQ(before.I, after.I);
}

TEST(IndexTurboQuantApi, ReconstructMatchesSaDecodeAndApproximatesInput) {
  const auto ds = small_data();
  IndexTurboQuant index(ds.d, IndexMetric::kL2);
  index.add(idx_t(ds.nb), ds.base.data());
  std::vector<float> one(ds.d), many(size_t(10) * ds.d), dec(size_t(10) * ds.d);
  index.reconstruct_n(5, 10, many.data());
  index.sa_decode(10, index.codes.data() + 5 * index.code_size, dec.data());
  EXPECT_EQ(many, dec);
  index.reconstruct(7, one.data());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), many.begin() + 2 * ds.d));
  // 4-bit mse reconstruction: relative squared error ≈ 0.0095 (TurboQuant Thm 1); allow 3×.
  double err = 0, norm = 0;
  for (size_t i = 0; i < 10; ++i)
    for (int j = 0; j < ds.d; ++j) {
      const double x = ds.base[(5 + i) * ds.d + j];
      err += (x - many[i * ds.d + j]) * (x - many[i * ds.d + j]);
      norm += x * x;
    }
  EXPECT_LT(err / norm, 0.03);
  EXPECT_THROW(index.reconstruct(idx_t(ds.nb), one.data()), Error);
  EXPECT_THROW(index.reconstruct(-1, one.data()), Error);
  EXPECT_THROW(index.reconstruct_n(idx_t(ds.nb) - 2, 5, many.data()), Error);
}

TEST(IndexTurboQuantApi, SaEncodeGivesTheStoredCodesAndRoundTrips) {
  const auto ds = small_data();
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kCosine}) {
    IndexTurboQuant index(ds.d, m);
    index.add(idx_t(ds.nb), ds.base.data());
    EXPECT_EQ(index.sa_code_size(), index.code_size);
    std::vector<uint8_t> codes(20 * index.code_size);
    index.sa_encode(20, ds.base.data(), codes.data());
    EXPECT_TRUE(std::equal(codes.begin(), codes.end(), index.codes.begin()));
    // decode → encode → decode is stable up to a tiny fraction of coordinates at cell boundaries.
    std::vector<float> x1(20 * ds.d), x2(20 * ds.d);
    std::vector<uint8_t> codes2(codes.size());
    index.sa_decode(20, codes.data(), x1.data());
    index.sa_encode(20, x1.data(), codes2.data());
    index.sa_decode(20, codes2.data(), x2.data());
    double diff = 0, norm = 0;
    for (size_t i = 0; i < x1.size(); ++i) {
      diff += double(x1[i] - x2[i]) * (x1[i] - x2[i]);
      norm += double(x1[i]) * x1[i];
    }
    EXPECT_LT(diff / norm, 0.01) << index_metric_name(m);
    // add_sa_codes of the encoded rows reproduces add().
    IndexTurboQuant copy(ds.d, m);
    copy.add_sa_codes(20, codes.data());
    EXPECT_TRUE(std::equal(copy.codes.begin(), copy.codes.end(), index.codes.begin()));
  }
}

TEST(IndexTurboQuantApi, RangeSearchReturnsExactlyRowsWithinRadius) {
  const auto ds = small_data();
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kL2}) {
    IndexTurboQuant index(ds.d, m);
    index.add(idx_t(ds.nb), ds.base.data());
    const size_t nq = 5;
    // Radius = the 20th best estimate of query 0, so results are neither empty nor everything.
    const Result r = run_search(index, ds, 20, nullptr, nq);
    const float radius = r.D[19];
    faiss::RangeSearchResult res{idx_t(nq)};
    index.range_search(idx_t(nq), ds.queries.data(), radius, &res);
    std::unique_ptr<faiss::DistanceComputer> dc(index.get_distance_computer());
    for (size_t q = 0; q < nq; ++q) {
      dc->set_query(ds.queries.data() + q * ds.d);
      size_t expected = 0;
      for (idx_t i = 0; i < index.ntotal; ++i) {
        const float dist = (*dc)(i);
        expected += m == IndexMetric::kL2 ? dist < radius : dist > radius;
      }
      EXPECT_EQ(res.lims[q + 1] - res.lims[q], expected) << "query " << q;
      for (size_t j = res.lims[q]; j < res.lims[q + 1]; ++j) {
        EXPECT_FLOAT_EQ(res.distances[j], (*dc)(res.labels[j]));
      }
    }
    EXPECT_GE(res.lims[1] - res.lims[0], 19u);  // at least the 19 results better than the 20th
  }
}

TEST(IndexTurboQuantApi, IdSelectorRestrictsResults) {
  const auto ds = small_data();
  IndexTurboQuant index(ds.d, IndexMetric::kL2);
  index.add(idx_t(ds.nb), ds.base.data());
  faiss::IDSelectorRange range(100, 200);
  faiss::SearchParameters plain;
  plain.sel = &range;
  SearchParametersTurboQuant tp;
  tp.sel = &range;
  for (const faiss::SearchParameters* p : std::vector<const faiss::SearchParameters*>{&plain, &tp}) {
    const Result r = run_search(index, ds, 150, p);
    for (size_t q = 0; q < ds.nq; ++q) {
      for (int j = 0; j < 150; ++j) {
        const idx_t id = r.I[q * 150 + j];
        if (j < 100) {
          EXPECT_GE(id, 100);
          EXPECT_LT(id, 200);
        } else {
          EXPECT_EQ(id, -1);
        }
      }
    }
  }
}

TEST(IndexTurboQuantApi, SearchParametersOverrideDefaults) {
  const auto ds = small_data(64, 4000, 16);
  IndexTurboQuantOptions o;
  o.quantizer.qjl = true;  // renorm and QJL both stored
  IndexTurboQuant index(ds.d, IndexMetric::kInnerProduct, o);
  index.add(idx_t(ds.nb), ds.base.data());
  FlatSearchStats stats;
  SearchParametersTurboQuant p;
  p.rerank_factor = 0;
  p.stats = &stats;
  run_search(index, ds, 10, &p);
  EXPECT_EQ(stats.reranked, 0u);
  EXPECT_EQ(stats.scanned, ds.nq * ds.nb);
  stats = {};
  p.rerank_factor = 8;
  p.rerank_min = 0;
  run_search(index, ds, 10, &p);
  EXPECT_EQ(stats.reranked, ds.nq * 80);
  // Estimator override: distances follow the chosen estimator.
  p = {};
  p.estimator = Estimator::kQjl;
  p.qjl_prune_z = 0;
  const Result rq = run_search(index, ds, 10, &p);
  auto dc = index.make_distance_computer(Estimator::kQjl);
  dc->set_query(ds.queries.data());
  for (int j = 0; j < 10; ++j) EXPECT_NEAR(rq.D[j], (*dc)(rq.I[j]), 1e-3f * (1 + std::fabs(rq.D[j])));
  // Unsupported estimator for the stored codes.
  IndexTurboQuantOptions mse_only;
  mse_only.quantizer.store_renorm = false;
  mse_only.search.estimator = Estimator::kMse;
  IndexTurboQuant plain(ds.d, IndexMetric::kInnerProduct, mse_only);
  plain.add(idx_t(ds.nb), ds.base.data());
  SearchParametersTurboQuant bad;
  bad.estimator = Estimator::kRenorm;
  EXPECT_THROW(run_search(plain, ds, 10, &bad), Error);
  bad = {};
  bad.query_batch = 65;
  EXPECT_THROW(run_search(plain, ds, 10, &bad), Error);
  // Foreign parameter types are refused rather than silently ignored.
  struct OtherParams : faiss::SearchParameters {};
  OtherParams other;
  EXPECT_THROW(run_search(plain, ds, 10, &other), Error);
  // Constructor validation of the default estimator.
  IndexTurboQuantOptions wrong;
  wrong.quantizer.store_renorm = false;
  EXPECT_THROW(IndexTurboQuant(16, IndexMetric::kInnerProduct, wrong), Error);
}

// The scan layout option: a 2-bit prefix scan of 4-bit codes rescores with the full codes, so when the bound admits
// every row (prefix_z huge, per search) it returns exactly what the full layout returns with every row reranked; a
// smaller z rescores fewer rows. Out-of-range layouts and bounded-scan defaults are refused.
TEST(IndexTurboQuantApi, PrefixScanLayoutRescoresWithTheFullCodes) {
  const auto ds = small_data(64, 4000, 16);
  for (IndexMetric m : {IndexMetric::kInnerProduct, IndexMetric::kL2, IndexMetric::kCosine}) {
    IndexTurboQuantOptions o;
    o.scan_bits = 2;
    IndexTurboQuant prefix(ds.d, m, o);
    IndexTurboQuant full(ds.d, m);
    prefix.add(idx_t(ds.nb), ds.base.data());
    full.add(idx_t(ds.nb), ds.base.data());
    ASSERT_EQ(prefix.codes, full.codes);
    EXPECT_EQ(prefix.scanner().layout().scan_bits, 2);
    EXPECT_EQ(full.scanner().layout().scan_bits, 0);
    SearchParametersTurboQuant all_rows;
    all_rows.rerank_factor = int(ds.nb);
    SearchParametersTurboQuant every_row;
    every_row.prefix_z = 1e9f;
    FlatSearchStats stats;
    every_row.stats = &stats;
    const Result a = run_search(full, ds, 10, &all_rows), b = run_search(prefix, ds, 10, &every_row);
    EXPECT_EQ(a.I, b.I) << index_metric_name(m);
    EXPECT_EQ(a.D, b.D) << index_metric_name(m);
    EXPECT_EQ(stats.reranked, ds.nq * ds.nb);
    SearchParametersTurboQuant fast;
    fast.prefix_z = 0;
    FlatSearchStats fast_stats;
    fast.stats = &fast_stats;
    run_search(prefix, ds, 10, &fast);
    EXPECT_LT(fast_stats.reranked, ds.nq * ds.nb / 4) << index_metric_name(m);
    // Per-search coarse LUT on the prefix scan: with both bounds admitting every row, the same exact results; the
    // LUT bound applies only to a coarse LUT (a huge lut_z admits every row at lut_max 63, none extra at 255).
    SearchParametersTurboQuant coarse_all = every_row;
    coarse_all.lut_max = 63;
    coarse_all.lut_z = 1e9f;
    const Result c = run_search(prefix, ds, 10, &coarse_all);
    EXPECT_EQ(a.I, c.I) << index_metric_name(m);
    EXPECT_EQ(a.D, c.D) << index_metric_name(m);
    for (int lut_max : {63, 255}) {
      SearchParametersTurboQuant wide_lut = fast;
      wide_lut.lut_max = lut_max;
      wide_lut.lut_z = 1e9f;
      FlatSearchStats wide_stats;
      wide_lut.stats = &wide_stats;
      run_search(prefix, ds, 10, &wide_lut);
      if (lut_max == 63) {
        EXPECT_EQ(wide_stats.reranked, ds.nq * ds.nb) << index_metric_name(m);
      } else {
        EXPECT_EQ(wide_stats.reranked, fast_stats.reranked) << index_metric_name(m);
      }
    }
    for (int bad : {1, 64, 256, -63}) {
      SearchParametersTurboQuant sp;
      sp.lut_max = bad;
      EXPECT_THROW(run_search(prefix, ds, 10, &sp), Error) << bad;
    }
    for (float bad : {std::nanf(""), INFINITY}) {  // (negative = keep the default)
      SearchParametersTurboQuant sp;
      sp.lut_z = bad;
      EXPECT_THROW(run_search(prefix, ds, 10, &sp), Error) << bad;
      SearchParametersTurboQuant pz;  // the other z overrides refuse NaN / inf too, not silently keep the default
      pz.prefix_z = bad;
      EXPECT_THROW(run_search(prefix, ds, 10, &pz), Error) << bad;
      SearchParametersTurboQuant qz;
      qz.qjl_prune_z = bad;
      EXPECT_THROW(run_search(full, ds, 10, &qz), Error) << bad;
    }
  }
  for (int bad : {-2, 5}) {
    IndexTurboQuantOptions o;
    o.scan_bits = bad;
    EXPECT_THROW(IndexTurboQuant(16, IndexMetric::kL2, o), Error) << bad;
  }
  IndexTurboQuantOptions bad_lut;
  bad_lut.search.lut_max = 100;
  EXPECT_THROW(IndexTurboQuant(16, IndexMetric::kL2, bad_lut), Error);
  IndexTurboQuantOptions bad_z;
  bad_z.search.lut_z = -1;
  EXPECT_THROW(IndexTurboQuant(16, IndexMetric::kL2, bad_z), Error);
}

TEST(IndexTurboQuantApi, ResultsIdenticalAcrossSimdLevelsAndQueryBatches) {
  const auto ds = small_data(100, 2000, 13);  // d not a power of two, nq not a multiple of the batch
  IndexTurboQuant index(ds.d, IndexMetric::kL2);
  index.add(idx_t(ds.nb - 5), ds.base.data());  // ntotal not a multiple of 32
  const Result ref = run_search(index, ds, 10);
  for (SimdLevel level : all_simd_levels()) {
    if (!simd_level_supported(level)) continue;
    FlatSearchParams p = index.options().search;
    p.level = level;
    for (int batch : {1, 3, 8}) {
      p.query_batch = batch;
      index.set_search_params(p);
      const Result r = run_search(index, ds, 10);
      EXPECT_EQ(r.I, ref.I) << simd_level_name(level) << " batch " << batch;
      EXPECT_EQ(r.D, ref.D) << simd_level_name(level) << " batch " << batch;
    }
  }
}

TEST(IndexTurboQuantApi, BadInputGivesClearErrors) {
  const auto ds = small_data(16, 100, 2);
  IndexTurboQuant index(ds.d);
  index.add(idx_t(ds.nb), ds.base.data());
  std::vector<float> D(20);
  std::vector<idx_t> I(20);
  auto expect_error = [](auto&& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&] { index.search(1, ds.queries.data(), 0, D.data(), I.data()); }, "k must be >= 1");
  expect_error([&] { index.search(1, ds.queries.data(), -3, D.data(), I.data()); }, "got -3");
  std::vector<float> bad(ds.queries.begin(), ds.queries.begin() + 2 * ds.d);
  bad[ds.d + 3] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { index.search(2, bad.data(), 5, D.data(), I.data()); }, "vector 1");
  expect_error([&] { index.add(2, bad.data()); }, "non-finite");
  EXPECT_EQ(index.ntotal, idx_t(ds.nb));  // failed add leaves the index unchanged
  EXPECT_EQ(index.scanner().size(), ds.nb);
  bad[ds.d + 3] = std::numeric_limits<float>::infinity();
  expect_error([&] { index.add(2, bad.data()); }, "inf");
  std::vector<uint8_t> codes(2 * index.code_size);
  expect_error([&] { index.sa_encode(2, bad.data(), codes.data()); }, "non-finite");
  faiss::RangeSearchResult res(2);
  expect_error([&] { index.range_search(2, bad.data(), 0.5f, &res); }, "non-finite");
  expect_error([&] { IndexTurboQuant(0); }, "dimension");
  IndexTurboQuantOptions o;
  o.quantizer.bits = 9;
  EXPECT_THROW(IndexTurboQuant(16, IndexMetric::kInnerProduct, o), Error);
  // Codes with an invalid norm are refused by add_sa_codes.
  std::vector<uint8_t> c(index.code_size);
  index.sa_encode(1, ds.base.data(), c.data());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(c.data() + index.quantizer().mse_bytes(), &nan, 4);
  expect_error([&] { index.add_sa_codes(1, c.data()); }, "norm");
}

}  // namespace
}  // namespace tqsearch
