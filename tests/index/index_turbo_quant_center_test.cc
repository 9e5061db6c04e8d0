// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Centering option of IndexTurboQuant (options.center, factory ",Center"): training contract, the exact distance
// identities for L2 / IP / cosine (cosine ranks as L2 on centered unit vectors), zero rows and zero queries under
// cosine, reconstruction, merge, wrappers, index files (v2 with μ, v1 still read).

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexShards.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>

#include "index/index_factory.h"
#include "index/index_io.h"
#include "index/index_turbo_quant.h"
#include "index/internal/byte_stream.h"
#include "index_test_util.h"
#include "quant/error.h"

namespace tqsearch {
namespace {

using idx_t = faiss::Index::idx_t;
constexpr uint64_t kSeed = 4242;

const testing::Dataset& data() {
  // Far from the origin (common offset), anisotropic clusters: the case centering is for.
  static const testing::Dataset ds = [] {
    std::printf("[seed] clustered generator seed = %llu\n", static_cast<unsigned long long>(kSeed));
    return testing::make_clustered(48, 1200, 20, 10, kSeed);
  }();
  return ds;
}

std::vector<float> column_mean(const std::vector<float>& x, int d) {
  const size_t n = x.size() / size_t(d);
  std::vector<double> s(size_t(d), 0.0);
  for (size_t i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) s[size_t(j)] += x[i * size_t(d) + size_t(j)];
  std::vector<float> m(static_cast<size_t>(d), 0.0f);
  for (int j = 0; j < d; ++j) m[size_t(j)] = float(s[size_t(j)] / double(n));
  return m;
}

using testing::normalized;

IndexTurboQuantOptions centered_options(double bits = 4) {
  IndexTurboQuantOptions o;
  o.quantizer.bits = bits;
  o.center = true;
  return o;
}

std::unique_ptr<IndexTurboQuant> trained_filled(IndexMetric m, const IndexTurboQuantOptions& o) {
  const auto& ds = data();
  auto idx = std::make_unique<IndexTurboQuant>(ds.d, m, o);
  idx->train(idx_t(ds.nb), ds.base.data());
  idx->add(idx_t(ds.nb), ds.base.data());
  return idx;
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected a tqsearch::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(IndexTurboQuantCenter, OffByDefaultTheIndexStaysTrainingFree) {
  const auto& ds = data();
  IndexTurboQuant idx(ds.d, IndexMetric::kL2);
  EXPECT_TRUE(idx.is_trained);
  EXPECT_FALSE(idx.centered());
  idx.train(idx_t(ds.nb), ds.base.data());  // no-op
  EXPECT_TRUE(idx.mean().empty());
  idx.add(idx_t(ds.nb), ds.base.data());
  EXPECT_EQ(idx.ntotal, idx_t(ds.nb));
}

TEST(IndexTurboQuantCenter, TrainIsRequiredAndComputesTheMean) {
  const auto& ds = data();
  IndexTurboQuant idx(ds.d, IndexMetric::kL2, centered_options());
  EXPECT_FALSE(idx.is_trained);
  std::vector<uint8_t> code(idx.code_size);
  expect_error([&] { idx.add(idx_t(ds.nb), ds.base.data()); }, "call train()");
  expect_error([&] { idx.sa_encode(1, ds.base.data(), code.data()); }, "not trained");
  expect_error([&] { idx.add_sa_codes(1, code.data()); }, "not trained");
  expect_error([&] { idx.train(0, ds.base.data()); }, "at least one training vector");
  std::vector<float> bad(ds.base.begin(), ds.base.begin() + ds.d);
  bad[3] = std::nanf("");
  expect_error([&] { idx.train(1, bad.data()); }, "non-finite");
  EXPECT_EQ(idx.ntotal, 0);
  // An empty index searches fine before training (padding).
  std::vector<float> D(10);
  std::vector<idx_t> I(10);
  idx.search(1, ds.queries.data(), 10, D.data(), I.data());
  EXPECT_EQ(I[0], -1);

  idx.train(idx_t(ds.nb), ds.base.data());
  EXPECT_TRUE(idx.is_trained);
  const std::vector<float> expect = column_mean(ds.base, ds.d);
  ASSERT_EQ(idx.mean().size(), size_t(ds.d));
  for (int j = 0; j < ds.d; ++j) EXPECT_NEAR(idx.mean()[size_t(j)], expect[size_t(j)], 1e-5f) << j;
  idx.add(idx_t(ds.nb), ds.base.data());
  // Retraining would orphan the stored codes.
  expect_error([&] { idx.train(idx_t(ds.nb), ds.base.data()); }, "reset()");
  expect_error([&] { idx.set_mean(expect.data()); }, "reset()");
  idx.reset();
  idx.train(10, ds.base.data());  // allowed again on an empty index
  EXPECT_TRUE(idx.is_trained);
  // set_mean on an uncentered index is refused.
  IndexTurboQuant plain(ds.d, IndexMetric::kL2);
  expect_error([&] { plain.set_mean(expect.data()); }, "centering is off");
}

// add() and sa_encode() of a centered index store exactly the quantizer's codes of x − μ; a NaN/Inf row is named
// in the index's words and leaves the index as it was; train() names a non-finite training value.
TEST(IndexTurboQuantCenter, CenteredCodesAreTheQuantizerCodesOfTheDifference) {
  const auto& ds = data();
  for (IndexMetric m : {IndexMetric::kL2, IndexMetric::kInnerProduct}) {
    for (double bits : {1.0, 2.0, 2.5, 4.0}) {
      auto idx = trained_filled(m, centered_options(bits));
      const std::vector<float>& mu = idx->mean();
      std::vector<float> diff(ds.base.size());
      for (size_t i = 0; i < ds.nb; ++i)
        for (int j = 0; j < ds.d; ++j) diff[i * ds.d + j] = ds.base[i * ds.d + j] - mu[size_t(j)];
      std::vector<uint8_t> want(ds.nb * idx->code_size), sa(ds.nb * idx->code_size);
      idx->quantizer().encode(ds.nb, diff.data(), want.data());
      EXPECT_EQ(0, std::memcmp(want.data(), idx->codes.data(), want.size())) << "bits " << bits;
      idx->sa_encode(idx_t(ds.nb), ds.base.data(), sa.data());
      EXPECT_EQ(want, sa) << "bits " << bits;

      std::vector<float> bad(ds.base.begin(), ds.base.begin() + 100 * ds.d);
      bad[size_t(77) * ds.d + 5] = std::nanf("");
      const std::vector<uint8_t> before = idx->codes;
      expect_error([&] { idx->add(100, bad.data()); }, "IndexTurboQuant::add: vector 77 has a non-finite value");
      EXPECT_EQ(idx->ntotal, idx_t(ds.nb));
      EXPECT_EQ(idx->codes, before);
      bad[size_t(77) * ds.d + 5] = INFINITY;
      expect_error([&] { idx->sa_encode(100, bad.data(), sa.data()); },
                   "IndexTurboQuant::sa_encode: vector 77 has a non-finite value");
    }
  }
  IndexTurboQuant idx(ds.d, IndexMetric::kL2, centered_options());
  std::vector<float> bad(ds.base.begin(), ds.base.begin() + 50 * ds.d);
  bad[size_t(31) * ds.d + ds.d - 1] = -INFINITY;
  expect_error([&] { idx.train(50, bad.data()); }, "IndexTurboQuant::train: vector 31 has a non-finite value");
  EXPECT_FALSE(idx.is_trained);
}

TEST(IndexTurboQuantCenter, CosineMeanIsTheMeanOfNormalizedRows) {
  const auto& ds = data();
  IndexTurboQuant idx(ds.d, IndexMetric::kCosine, centered_options());
  idx.train(idx_t(ds.nb), ds.base.data());
  const std::vector<float> expect = column_mean(normalized(ds.base, ds.d), ds.d);
  for (int j = 0; j < ds.d; ++j) EXPECT_NEAR(idx.mean()[size_t(j)], expect[size_t(j)], 1e-6f) << j;
}

// The centered index's distances are exactly those of an uncentered index over x − μ: L2 with the query moved to
// q − μ; IP with the constant ⟨q, μ⟩ added; cosine as L2 over x̂ − μ with the query q̂ − μ, reported as
// 1 − L2/2 (= ⟨q̂, x̂⟩ for unit q̂, x̂). Checked for search, search with an IDSelector (float scan), range_search and
// the distance computer.
TEST(IndexTurboQuantCenter, DistancesFollowTheCenteringIdentities) {
  const auto& ds = data();
  for (IndexMetric m : {IndexMetric::kL2, IndexMetric::kInnerProduct, IndexMetric::kCosine}) {
    SCOPED_TRACE(index_metric_name(m));
    auto centered = trained_filled(m, centered_options());
    const std::vector<float>& mu = centered->mean();
    // Reference: the same codes in an uncentered IP/L2 index over x − μ (cosine: L2 over normalized x − μ).
    const bool cosine = m == IndexMetric::kCosine;
    const bool centered_query = m == IndexMetric::kL2 || cosine;  // the scanner sees q − μ
    const std::vector<float> base = cosine ? normalized(ds.base, ds.d) : ds.base;
    const std::vector<float> queries = cosine ? normalized(ds.queries, ds.d) : ds.queries;
    std::vector<float> shifted(base);
    for (size_t i = 0; i < ds.nb; ++i)
      for (int j = 0; j < ds.d; ++j) shifted[i * ds.d + j] -= mu[size_t(j)];
    const IndexMetric ref_metric = centered_query ? IndexMetric::kL2 : IndexMetric::kInnerProduct;
    IndexTurboQuant ref(ds.d, ref_metric);
    ref.add(idx_t(ds.nb), shifted.data());
    ASSERT_EQ(ref.codes, centered->codes);  // add() encodes exactly x − μ

    std::vector<float> ref_q(queries);
    std::vector<float> offset(ds.nq, 0.0f);
    for (size_t q = 0; q < ds.nq; ++q) {
      double c = 0;
      for (int j = 0; j < ds.d; ++j) c += double(queries[q * ds.d + j]) * mu[size_t(j)];
      offset[q] = float(c);
      if (centered_query)
        for (int j = 0; j < ds.d; ++j) ref_q[q * ds.d + j] -= mu[size_t(j)];
    }
    const int k = 10;
    std::vector<float> D(ds.nq * k), Dr(ds.nq * k);
    std::vector<idx_t> I(ds.nq * k), Ir(ds.nq * k);
    centered->search(idx_t(ds.nq), ds.queries.data(), k, D.data(), I.data());
    ref.search(idx_t(ds.nq), ref_q.data(), k, Dr.data(), Ir.data());
    EXPECT_EQ(I, Ir);
    for (size_t q = 0; q < ds.nq; ++q)
      for (int j = 0; j < k; ++j) {
        const float r = Dr[q * k + j];
        // Cosine: unit q̂, x̂ give ⟨q̂, x̂⟩ = (1 + 1 − ‖(q̂ − μ) − (x̂ − μ)‖²)/2.
        const float expect = cosine ? 1.0f - 0.5f * r : m == IndexMetric::kL2 ? r : r + offset[q];
        EXPECT_NEAR(D[q * k + j], expect, 1e-4f * (1.0f + std::fabs(expect))) << q << "," << j;
      }

    // True distances: the estimates of an 8-bit centered index are close to brute force. The estimator's error
    // scales with ‖q‖·‖x − μ‖ (IP; L2: 2·‖q − μ‖·‖x − μ‖; cosine: half the L2 error, ‖q̂ − μ‖·‖x̂ − μ‖), not with
    // the size of the distance.
    auto fine = trained_filled(m, centered_options(8));
    fine->search(idx_t(ds.nq), ds.queries.data(), k, D.data(), I.data());
    double worst = 0;
    for (size_t q = 0; q < ds.nq; ++q)
      for (int j = 0; j < k; ++j) {
        const float* x = base.data() + size_t(I[q * k + j]) * ds.d;
        const float* qq = queries.data() + q * ds.d;
        double truth = 0, nq2 = 0, nx2 = 0;
        for (int t = 0; t < ds.d; ++t) {
          truth += m == IndexMetric::kL2 ? double(qq[t] - x[t]) * (qq[t] - x[t]) : double(qq[t]) * x[t];
          const double qc = centered_query ? qq[t] - mu[size_t(t)] : qq[t];
          nq2 += qc * qc;
          nx2 += double(x[t] - mu[size_t(t)]) * (x[t] - mu[size_t(t)]);
        }
        const double scale = (m == IndexMetric::kL2 ? 2.0 : 1.0) * std::sqrt(nq2 * nx2);
        worst = std::max(worst, std::fabs(D[q * k + j] - truth) / scale);
      }
    std::printf("[identity] %s: worst 8-bit |estimate - truth| / (|q'|·|x - mu|) = %.4f\n", index_metric_name(m),
                worst);
    EXPECT_LT(worst, 0.01) << "8-bit centered estimates vs brute force";

    // Distance computer (HNSW storage, range_search) and selector path agree with search.
    centered->search(idx_t(ds.nq), ds.queries.data(), k, D.data(), I.data());
    auto dc = centered->make_distance_computer(Estimator::kRenorm);
    for (size_t q = 0; q < 3; ++q) {
      dc->set_query(ds.queries.data() + q * ds.d);
      for (int j = 0; j < k; ++j) {
        const float v = (*dc)(I[q * k + j]);
        EXPECT_NEAR(v, D[q * k + j], 1e-3f * (1.0f + std::fabs(v))) << q << "," << j;
      }
    }
    faiss::IDSelectorRange sel(0, idx_t(ds.nb));
    SearchParametersTurboQuant sp;
    sp.sel = &sel;
    std::vector<float> Ds(ds.nq * k);
    std::vector<idx_t> Is(ds.nq * k);
    centered->search(idx_t(ds.nq), ds.queries.data(), k, Ds.data(), Is.data(), &sp);
    for (size_t q = 0; q < ds.nq; ++q)
      for (int j = 0; j < k; ++j)
        EXPECT_NEAR(Ds[q * k + j], D[q * k + j], 1e-3f * (1.0f + std::fabs(D[q * k + j]))) << q << "," << j;
    // range_search with the k-th distance as radius returns the top results with the same distances.
    faiss::RangeSearchResult rr(1);
    const float radius = D[k - 1];
    centered->range_search(1, ds.queries.data(), radius, &rr);
    size_t found = 0;
    for (size_t t = rr.lims[0]; t < rr.lims[1]; ++t) {
      for (int j = 0; j < k - 1; ++j)
        if (rr.labels[t] == I[j]) {
          ++found;
          EXPECT_NEAR(rr.distances[t], D[j], 1e-3f * (1.0f + std::fabs(D[j])));
        }
    }
    EXPECT_GE(found, size_t(k - 2));  // ties at the boundary aside
    // symmetric_dis between two rows matches the distance of their reconstructions (cosine: 1 − ‖ra − rb‖²/2, the
    // identity of unit rows, as search ranks).
    std::vector<float> ra(ds.d), rb(ds.d);
    centered->reconstruct(3, ra.data());
    centered->reconstruct(7, rb.data());
    double sym = 0;
    for (int t = 0; t < ds.d; ++t)
      sym += centered_query ? double(ra[t] - rb[t]) * (ra[t] - rb[t]) : double(ra[t]) * rb[t];
    if (cosine) sym = 1.0 - 0.5 * sym;
    EXPECT_NEAR(dc->symmetric_dis(3, 7), sym, 1e-3 * (1.0 + std::fabs(sym)));
  }
}

TEST(IndexTurboQuantCenter, ReconstructAndStandaloneCodecAddTheMeanBack) {
  const auto& ds = data();
  auto idx = trained_filled(IndexMetric::kL2, centered_options(8));
  std::vector<float> rec(ds.d), dec(ds.d);
  std::vector<uint8_t> code(idx->code_size);
  double err = 0, scale = 0;
  for (idx_t i = 0; i < 50; ++i) {
    const float* x = ds.base.data() + size_t(i) * ds.d;
    idx->reconstruct(i, rec.data());
    idx->sa_encode(1, x, code.data());
    EXPECT_EQ(0, std::memcmp(code.data(), idx->codes.data() + size_t(i) * idx->code_size, idx->code_size));
    idx->sa_decode(1, code.data(), dec.data());
    for (int j = 0; j < ds.d; ++j) {
      EXPECT_EQ(rec[size_t(j)], dec[size_t(j)]);
      err += double(rec[size_t(j)] - x[j]) * (rec[size_t(j)] - x[j]);
      scale += double(x[j]) * x[j];
    }
  }
  EXPECT_LT(err / scale, 1e-3) << "8-bit reconstruction of x (not of x − μ)";
  std::vector<float> many(size_t(ds.d) * 20);
  idx->reconstruct_n(0, 20, many.data());
  idx->reconstruct(19, rec.data());
  for (int j = 0; j < ds.d; ++j) EXPECT_EQ(many[size_t(19) * ds.d + j], rec[size_t(j)]);
}

TEST(IndexTurboQuantCenter, MergeNeedsTheSameMeanAndRemoveKeepsIt) {
  const auto& ds = data();
  const size_t half = ds.nb / 2;
  IndexTurboQuant a(ds.d, IndexMetric::kL2, centered_options()), b(ds.d, IndexMetric::kL2, centered_options());
  a.train(idx_t(ds.nb), ds.base.data());
  b.set_mean(a.mean().data());
  a.add(idx_t(half), ds.base.data());
  b.add(idx_t(ds.nb - half), ds.base.data() + half * ds.d);
  a.merge_from(b);
  auto whole = trained_filled(IndexMetric::kL2, centered_options());
  EXPECT_EQ(a.codes, whole->codes);

  IndexTurboQuant c(ds.d, IndexMetric::kL2, centered_options());
  c.train(10, ds.base.data());  // a different mean
  c.add(5, ds.base.data());
  expect_error([&] { a.merge_from(c); }, "different means");
  IndexTurboQuant plain(ds.d, IndexMetric::kL2);
  plain.add(5, ds.base.data());
  expect_error([&] { a.merge_from(plain); }, "centered");

  faiss::IDSelectorRange sel(0, 100);
  EXPECT_EQ(a.remove_ids(sel), size_t(100));
  EXPECT_EQ(a.mean(), whole->mean());
  std::vector<float> r1(ds.d), r2(ds.d);
  a.reconstruct(0, r1.data());
  whole->reconstruct(100, r2.data());
  EXPECT_EQ(r1, r2);
}

TEST(IndexTurboQuantCenter, FactoryWrappersTrainAndSearch) {
  const auto& ds = data();
  const auto gt = testing::brute_force(ds, 10, faiss::METRIC_L2);
  for (const char* desc : {"TQ4,Center", "IDMap,TQ4,Center", "IDMap2,TQ4,Center", "TQ4,Center,RFlat",
                           "HNSW16,TQ4,Center", "TQ4,Center,OptCos,Norm16"}) {
    SCOPED_TRACE(desc);
    auto idx = tqsearch::index_factory(ds.d, desc, faiss::METRIC_L2);
    EXPECT_FALSE(idx->is_trained);
    if (std::string(desc).rfind("IDMap", 0) == 0) {
      std::vector<idx_t> ids(ds.nb);
      for (size_t i = 0; i < ds.nb; ++i) ids[i] = idx_t(i);
      EXPECT_THROW(idx->add_with_ids(idx_t(ds.nb), ds.base.data(), ids.data()), std::exception);
      idx->train(idx_t(ds.nb), ds.base.data());
      idx->add_with_ids(idx_t(ds.nb), ds.base.data(), ids.data());
    } else {
      EXPECT_THROW(idx->add(idx_t(ds.nb), ds.base.data()), std::exception);
      idx->train(idx_t(ds.nb), ds.base.data());
      idx->add(idx_t(ds.nb), ds.base.data());
    }
    EXPECT_TRUE(idx->is_trained);
    std::vector<float> D(ds.nq * 10);
    std::vector<idx_t> I(ds.nq * 10);
    idx->search(idx_t(ds.nq), ds.queries.data(), 10, D.data(), I.data());
    const double r = testing::recall_k_at_k(gt, 10, I, 10, 10, ds.nq);
    std::printf("[recall] %-28s 10-recall@10 = %.3f\n", desc, r);
    EXPECT_GE(r, 0.6);
  }
  // Shards: each shard is trained with the same data, so all hold the same μ.
  faiss::IndexShards shards(ds.d, false, true);
  std::vector<std::unique_ptr<IndexTurboQuant>> parts;
  for (int s = 0; s < 2; ++s) {
    parts.push_back(std::make_unique<IndexTurboQuant>(ds.d, IndexMetric::kL2, centered_options()));
    shards.add_shard(parts.back().get());
  }
  shards.train(idx_t(ds.nb), ds.base.data());
  shards.add(idx_t(ds.nb), ds.base.data());
  EXPECT_EQ(parts[0]->mean(), parts[1]->mean());
  std::vector<float> D(ds.nq * 10);
  std::vector<idx_t> I(ds.nq * 10);
  shards.search(idx_t(ds.nq), ds.queries.data(), 10, D.data(), I.data());
  EXPECT_GE(testing::recall_k_at_k(gt, 10, I, 10, 10, ds.nq), 0.6);
}

TEST(IndexTurboQuantCenter, FactoryParsesTheNewOptions) {
  auto idx = tqsearch::index_factory(16, "TQ3,Center,OptCos,Norm16", faiss::METRIC_INNER_PRODUCT);
  auto* tq = dynamic_cast<IndexTurboQuant*>(idx.get());
  ASSERT_NE(tq, nullptr);
  EXPECT_TRUE(tq->options().center);
  EXPECT_TRUE(tq->options().quantizer.optimize_cosine);
  EXPECT_TRUE(tq->options().quantizer.fp16_norm);
  EXPECT_EQ(tq->code_size, size_t(6 + 2 + 4));  // 48 bits, fp16 norm, ρ
  expect_error([] { tqsearch::index_factory(16, "TQ4,Center,Center"); }, "Center given twice");
  expect_error([] { tqsearch::index_factory(16, "TQ4,MSE,OptCos"); }, "OptCos needs the renormalized");
  expect_error([] { tqsearch::index_factory(16, "TQ4,QJL,OptCos"); }, "OptCos needs the renormalized");
  auto plain = tqsearch::index_factory(16, "TQ4");
  EXPECT_TRUE(plain->is_trained);
}

TEST(IndexTurboQuantCenter, IndexFileKeepsMeanCenterAndOptimizeCosine) {
  const auto& ds = data();
  IndexTurboQuantOptions o = centered_options(3);
  o.quantizer.optimize_cosine = true;
  auto idx = trained_filled(IndexMetric::kInnerProduct, o);
  faiss::VectorIOWriter w;
  tqsearch::write_index(idx.get(), &w);
  faiss::VectorIOReader r;
  r.data = w.data;
  auto back_any = tqsearch::read_index(&r);
  auto* back = dynamic_cast<IndexTurboQuant*>(back_any.get());
  ASSERT_NE(back, nullptr);
  EXPECT_TRUE(back->options().center);
  EXPECT_TRUE(back->options().quantizer.optimize_cosine);
  EXPECT_TRUE(back->is_trained);
  EXPECT_EQ(back->mean(), idx->mean());
  EXPECT_EQ(back->codes, idx->codes);
  std::vector<float> D1(ds.nq * 10), D2(ds.nq * 10);
  std::vector<idx_t> I1(ds.nq * 10), I2(ds.nq * 10);
  idx->search(idx_t(ds.nq), ds.queries.data(), 10, D1.data(), I1.data());
  back->search(idx_t(ds.nq), ds.queries.data(), 10, D2.data(), I2.data());
  EXPECT_EQ(I1, I2);
  EXPECT_EQ(D1, D2);
  // New vectors encode the same way after loading (optimize_cosine and μ were restored).
  std::vector<uint8_t> c1(idx->code_size), c2(idx->code_size);
  idx->sa_encode(1, ds.queries.data(), c1.data());
  back->sa_encode(1, ds.queries.data(), c2.data());
  EXPECT_EQ(c1, c2);
  // A centered but untrained (empty) index round-trips as untrained.
  IndexTurboQuant empty(ds.d, IndexMetric::kL2, centered_options());
  faiss::VectorIOWriter we;
  tqsearch::write_index(&empty, &we);
  faiss::VectorIOReader re;
  re.data = we.data;
  auto e2 = tqsearch::read_index(&re);
  EXPECT_FALSE(e2->is_trained);
  EXPECT_TRUE(dynamic_cast<IndexTurboQuant&>(*e2).centered());
}

// A record in format version 1 (written before centering existed: no optimize_cosine / center fields, no mean
// section) still loads, as an uncentered index with the same codes and results.
TEST(IndexTurboQuantCenter, FormatVersion1FilesStillLoad) {
  const auto& ds = data();
  IndexTurboQuant idx(ds.d, IndexMetric::kL2);
  idx.add(idx_t(ds.nb), ds.base.data());
  const IndexTurboQuantOptions& o = idx.options();
  faiss::VectorIOWriter w;
  internal::StreamWriter out(&w);
  out.write_u32(internal::make_fourcc("TqFl"));
  out.write_u32(1);
  internal::ByteSink h;
  h.put_i32(int32_t(idx.d));
  h.put_u32(uint32_t(idx.metric()));
  h.put_f64(o.quantizer.bits);
  h.put_u32(uint32_t(o.quantizer.rotation.kind));
  h.put_u64(o.quantizer.rotation.seed);
  h.put_i32(o.quantizer.rotation.rounds);
  h.put_u8(o.quantizer.fp16_norm);
  h.put_u8(o.quantizer.store_renorm);
  h.put_u8(o.quantizer.qjl);
  h.put_u32(uint32_t(o.quantizer.qjl_kind));
  h.put_u64(o.quantizer.qjl_seed);
  h.put_u32(uint32_t(o.search.estimator));
  h.put_i32(o.search.rerank_factor);
  h.put_i32(o.search.rerank_min);
  h.put_f32(o.search.qjl_prune_z);
  h.put_i32(o.search.query_batch);
  h.put_u64(idx.code_size);
  h.put_i64(idx.ntotal);
  out.write_section(h);
  out.write_section(idx.codes.data(), idx.codes.size());
  faiss::VectorIOReader r;
  r.data = w.data;
  auto back_any = tqsearch::read_index(&r);
  auto* back = dynamic_cast<IndexTurboQuant*>(back_any.get());
  ASSERT_NE(back, nullptr);
  EXPECT_FALSE(back->centered());
  EXPECT_FALSE(back->options().quantizer.optimize_cosine);
  EXPECT_EQ(back->codes, idx.codes);
  std::vector<float> D1(ds.nq * 10), D2(ds.nq * 10);
  std::vector<idx_t> I1(ds.nq * 10), I2(ds.nq * 10);
  idx.search(idx_t(ds.nq), ds.queries.data(), 10, D1.data(), I1.data());
  back->search(idx_t(ds.nq), ds.queries.data(), 10, D2.data(), I2.data());
  EXPECT_EQ(I1, I2);
  EXPECT_EQ(D1, D2);
  // The current writer produces version 4 (v3 adds the scan layout, v4 fold_renorm; tests/index/index_io_test.cc
  // reads v2 and v3).
  faiss::VectorIOWriter w2;
  tqsearch::write_index(&idx, &w2);
  ASSERT_GE(w2.data.size(), size_t(8));
  EXPECT_EQ(w2.data[4], 4);
}

// ------------------------------------------------------------------------------------ cosine with centering

// The cosine index with centering is, by construction, an L2 index with centering over the normalized rows: same
// μ, same codes, same ranking, and distances 1 − L2/2 (⟨q̂, x̂⟩ = (1 + 1 − ‖q̂ − x̂‖²)/2 for unit vectors).
TEST(IndexTurboQuantCenter, CosineSearchIsCenteredL2OnTheNormalizedRows) {
  const auto& ds = data();
  const std::vector<float> base = normalized(ds.base, ds.d), queries = normalized(ds.queries, ds.d);
  for (double bits : {2.0, 4.0}) {
    SCOPED_TRACE(bits);
    auto cos = trained_filled(IndexMetric::kCosine, centered_options(bits));
    EXPECT_EQ(cos->metric_type, faiss::METRIC_INNER_PRODUCT);
    EXPECT_TRUE(cos->ranks_as_l2());
    IndexTurboQuant l2(ds.d, IndexMetric::kL2, centered_options(bits));
    l2.train(idx_t(ds.nb), base.data());
    EXPECT_EQ(l2.mean(), cos->mean());  // both average the normalized rows
    l2.add(idx_t(ds.nb), base.data());
    ASSERT_EQ(l2.codes, cos->codes);
    const int k = 20;
    std::vector<float> Dc(ds.nq * k), Dl(ds.nq * k);
    std::vector<idx_t> Ic(ds.nq * k), Il(ds.nq * k);
    cos->search(idx_t(ds.nq), ds.queries.data(), k, Dc.data(), Ic.data());  // raw queries: normalized inside
    l2.search(idx_t(ds.nq), queries.data(), k, Dl.data(), Il.data());
    EXPECT_EQ(Ic, Il);
    for (size_t t = 0; t < Dc.size(); ++t) {
      // Same scanner input bit for bit (q̂ − μ in float), so the only difference is the conversion's rounding.
      EXPECT_FLOAT_EQ(Dc[t], IndexTurboQuant::cosine_from_centered_l2(Dl[t])) << t;
      if (t % k > 0) {
        EXPECT_GE(Dc[t - 1], Dc[t]) << "cosine distances are descending";
      }
    }
  }
}

// Unit rows around a strong common offset (the case where the old inner-product form of centered cosine lost most
// of its recall: the query's component along μ entered the estimator's error). Centered cosine must now rank at
// least as well as uncentered cosine.
TEST(IndexTurboQuantCenter, CosineCenteringHelpsUnitRowsAroundACommonOffset) {
  constexpr uint64_t seed = 777;
  std::printf("[seed] offset-cluster unit rows seed = %llu\n", static_cast<unsigned long long>(seed));
  testing::Dataset ds = testing::make_clustered(256, 4000, 200, 40, seed);
  ds.base = normalized(ds.base, ds.d);
  ds.queries = normalized(ds.queries, ds.d);
  const std::vector<float> mu = column_mean(ds.base, ds.d);
  double mu2 = 0;
  for (float v : mu) mu2 += double(v) * v;
  std::printf("[offset] |mean of the unit rows| = %.3f\n", std::sqrt(mu2));
  ASSERT_GT(std::sqrt(mu2), 0.5) << "the generator must give a strong common offset";
  const auto gt = testing::brute_force(ds, 10, faiss::METRIC_INNER_PRODUCT);
  auto recall = [&](IndexMetric m, bool center) {
    IndexTurboQuantOptions o;
    o.center = center;
    IndexTurboQuant idx(ds.d, m, o);
    idx.train(idx_t(ds.nb), ds.base.data());
    idx.add(idx_t(ds.nb), ds.base.data());
    std::vector<float> D(ds.nq * 10);
    std::vector<idx_t> I(ds.nq * 10);
    idx.search(idx_t(ds.nq), ds.queries.data(), 10, D.data(), I.data());
    return testing::recall_k_at_k(gt, 10, I, 10, 10, ds.nq);
  };
  const double cos_plain = recall(IndexMetric::kCosine, false);
  const double cos_center = recall(IndexMetric::kCosine, true);
  const double ip_center = recall(IndexMetric::kInnerProduct, true);  // the former cosine rule
  std::printf("[recall] TQ4 10-R@10: cosine %.3f, cosine centered %.3f, inner product centered %.3f\n", cos_plain,
              cos_center, ip_center);
  EXPECT_GE(cos_center, cos_plain);
}

// A zero row has no centered cosine code (cosine scores it 0; the L2 identity needs ‖x̂‖ = 1): add, sa_encode and
// the wrappers refuse it, naming the row, and leave the index as it was. Uncentered cosine and centered IP keep it.
TEST(IndexTurboQuantCenter, CosineCenteringRefusesZeroRowsAndLosesNothing) {
  // d = 2048: add() encodes in chunks of 512 rows, so row 550 is in the second chunk.
  constexpr int d = 2048;
  constexpr uint64_t seed = 99;
  std::printf("[seed] zero-row data seed = %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> offset(d), x(size_t(600) * d);
  for (float& v : offset) v = g(rng);
  for (size_t i = 0; i < 600; ++i)
    for (int j = 0; j < d; ++j) x[i * d + j] = offset[size_t(j)] + 0.5f * g(rng);
  IndexTurboQuant idx(d, IndexMetric::kCosine, centered_options());
  idx.train(600, x.data());
  idx.add(100, x.data());
  const std::vector<uint8_t> before = idx.codes;
  std::vector<float> D0(10), D1(10);
  std::vector<idx_t> I0(10), I1(10);
  idx.search(1, x.data() + size_t(300) * d, 10, D0.data(), I0.data());

  std::vector<float> bad(x);
  std::fill(bad.begin() + size_t(550) * d, bad.begin() + size_t(551) * d, 0.0f);
  expect_error([&] { idx.add(600, bad.data()); },
               "IndexTurboQuant::add: row 550 is the zero vector: a centered cosine index cannot represent it; drop "
               "it or use inner product");
  EXPECT_EQ(idx.ntotal, 100);
  EXPECT_EQ(idx.codes, before);
  EXPECT_EQ(idx.scanner().size(), size_t(100));
  idx.search(1, x.data() + size_t(300) * d, 10, D1.data(), I1.data());
  EXPECT_EQ(I0, I1);
  EXPECT_EQ(D0, D1);
  std::vector<uint8_t> codes(size_t(3) * idx.code_size);
  expect_error([&] { idx.sa_encode(3, bad.data() + size_t(548) * d, codes.data()); },
               "IndexTurboQuant::sa_encode: row 2 is the zero vector");
  // A NaN before the zero row (same chunk) is still reported as the NaN, numbered in the whole batch.
  bad[size_t(520) * d + 7] = std::nanf("");
  expect_error([&] { idx.add(600, bad.data()); }, "IndexTurboQuant::add: vector 520 has a non-finite value");
  EXPECT_EQ(idx.ntotal, 100);
  EXPECT_EQ(idx.codes, before);
  bad[size_t(520) * d + 7] = x[size_t(520) * d + 7];

  // Through the FAISS wrappers: HNSW storage and IDMap leave their own state unchanged too.
  for (const char* desc : {"HNSW16,TQ4,Center", "IDMap,TQ4,Center"}) {
    SCOPED_TRACE(desc);
    auto w = tqsearch::index_factory(d, desc, IndexMetric::kCosine);
    w->train(600, x.data());
    std::vector<idx_t> ids(600);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = idx_t(1000 + i);
    const bool idmap = std::string(desc).rfind("IDMap", 0) == 0;
    if (idmap) {
      w->add_with_ids(100, x.data(), ids.data());
      EXPECT_THROW(w->add_with_ids(600, bad.data(), ids.data()), Error);
    } else {
      w->add(100, x.data());
      std::vector<float> zero_last(x.begin(), x.begin() + size_t(50) * d);
      std::fill(zero_last.end() - d, zero_last.end(), 0.0f);
      EXPECT_THROW(w->add(50, zero_last.data()), Error);
    }
    EXPECT_EQ(w->ntotal, 100);
    if (idmap) {
      EXPECT_EQ(dynamic_cast<faiss::IndexIDMap&>(*w).id_map.size(), size_t(100));
    }
    w->search(1, x.data() + size_t(30) * d, 5, D1.data(), I1.data());
    EXPECT_EQ(I1[0], idmap ? 1030 : 30);
  }

  // Not refused where a zero row has a meaning the index can keep.
  for (auto [m, center] : {std::pair{IndexMetric::kCosine, false}, std::pair{IndexMetric::kInnerProduct, true}}) {
    IndexTurboQuantOptions o = centered_options();
    o.center = center;
    IndexTurboQuant keep(d, m, o);
    keep.train(600, x.data());
    keep.add(600, bad.data());
    EXPECT_EQ(keep.ntotal, 600);
  }

  // Codes of a zero row (of 0 − μ) do not enter through add_sa_codes either: they are what files written before
  // format v4 hold for zero rows of centered cosine indexes, and such a file is refused when read, not misranked.
  std::vector<float> neg_mu(static_cast<size_t>(d));
  for (int j = 0; j < d; ++j) neg_mu[size_t(j)] = 0.0f - idx.mean()[size_t(j)];
  std::vector<uint8_t> zero_code(idx.code_size);
  idx.quantizer().encode(1, neg_mu.data(), zero_code.data());
  std::vector<uint8_t> three(before.begin(), before.begin() + std::ptrdiff_t(3 * idx.code_size));
  std::copy(zero_code.begin(), zero_code.end(), three.begin() + std::ptrdiff_t(idx.code_size));
  expect_error([&] { idx.add_sa_codes(3, three.data()); }, "add_sa_codes: code 1 is the code of a zero row");
  EXPECT_EQ(idx.ntotal, 100);
  // The old file: a centered IP index over the normalized rows with this μ (same codes as an old cosine one, zero
  // row included), its header's metric turned into cosine (u32 after i32 d; the section checksum recomputed).
  IndexTurboQuant ip(d, IndexMetric::kInnerProduct, centered_options());
  ip.set_mean(idx.mean().data());
  std::vector<float> rows(x.begin(), x.begin() + std::ptrdiff_t(5) * d);
  std::fill(rows.begin() + std::ptrdiff_t(3) * d, rows.begin() + std::ptrdiff_t(4) * d, 0.0f);  // row 3: zero
  rows = normalized(rows, d);
  ip.add(5, rows.data());
  faiss::VectorIOWriter w;
  tqsearch::write_index(&ip, &w);
  uint64_t len = 0;
  std::memcpy(&len, w.data.data() + 8, 8);
  std::vector<uint8_t> header(w.data.begin() + 16, w.data.begin() + 16 + std::ptrdiff_t(len));
  const uint32_t cosine = uint32_t(IndexMetric::kCosine);
  std::memcpy(header.data() + 4, &cosine, 4);
  faiss::VectorIOWriter w2;
  {
    internal::StreamWriter out(&w2);
    out.write_u32(internal::make_fourcc("TqFl"));
    out.write_u32(3);
    header.pop_back();  // a v3 header: no fold_renorm byte
    out.write_section(header.data(), header.size());
  }
  w2.data.insert(w2.data.end(), w.data.begin() + 16 + std::ptrdiff_t(len) + 8, w.data.end());
  faiss::VectorIOReader r;
  r.data = w2.data;
  expect_error([&] { tqsearch::read_index(&r); }, "code 3 is the code of a zero row");
}

// Cosine zero query: q / ‖q‖ is taken as 0, so every row scores 0 (FAISS semantics). The index returns the first k
// rows (the first selected ones with an IDSelector), distance 0, padded with −1 / −FLT_MAX beyond ntotal, and does
// not rank −μ (what the centered scanner would see). The other queries of the batch are unaffected.
TEST(IndexTurboQuantCenter, CosineZeroQueryScoresZeroEverywhere) {
  const auto& ds = data();
  for (bool center : {true, false}) {
    SCOPED_TRACE(center ? "centered" : "uncentered");
    IndexTurboQuantOptions o = centered_options();
    o.center = center;
    auto idx = trained_filled(IndexMetric::kCosine, o);
    const int k = 10;
    std::vector<float> q(size_t(3) * ds.d, 0.0f);
    std::copy_n(ds.queries.data(), ds.d, q.data());
    std::copy_n(ds.queries.data() + ds.d, ds.d, q.data() + 2 * ds.d);
    std::vector<float> D(3 * k), Dr(2 * k);
    std::vector<idx_t> I(3 * k), Ir(2 * k);
    idx->search(3, q.data(), k, D.data(), I.data());
    idx->search(2, ds.queries.data(), k, Dr.data(), Ir.data());
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(I[size_t(k + j)], idx_t(j));
      EXPECT_EQ(D[size_t(k + j)], 0.0f);
      EXPECT_EQ(I[size_t(j)], Ir[size_t(j)]);
      EXPECT_EQ(D[size_t(j)], Dr[size_t(j)]);
      EXPECT_EQ(I[size_t(2 * k + j)], Ir[size_t(k + j)]);
      EXPECT_EQ(D[size_t(2 * k + j)], Dr[size_t(k + j)]);
    }
    // A batch of only zero queries, k > ntotal on a small index.
    IndexTurboQuant small(ds.d, IndexMetric::kCosine, o);
    small.train(idx_t(ds.nb), ds.base.data());
    small.add(4, ds.base.data());
    std::vector<float> Ds(2 * 6);
    std::vector<idx_t> Is(2 * 6);
    const std::vector<float> zeros(size_t(2) * ds.d, 0.0f);
    small.search(2, zeros.data(), 6, Ds.data(), Is.data());
    for (int t = 0; t < 2; ++t)
      for (int j = 0; j < 6; ++j) {
        EXPECT_EQ(Is[size_t(t * 6 + j)], j < 4 ? idx_t(j) : idx_t(-1));
        EXPECT_EQ(Ds[size_t(t * 6 + j)], j < 4 ? 0.0f : -FLT_MAX);
      }
    // IDSelector: the first selected rows.
    faiss::IDSelectorRange sel(100, 200);
    SearchParametersTurboQuant sp;
    sp.sel = &sel;
    idx->search(1, zeros.data(), k, D.data(), I.data(), &sp);
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(I[size_t(j)], idx_t(100 + j));
      EXPECT_EQ(D[size_t(j)], 0.0f);
    }
    // range_search: every row scores 0, so all rows are above a negative radius and none above a positive one.
    faiss::RangeSearchResult below(1), above(1);
    idx->range_search(1, zeros.data(), -0.5f, &below);
    idx->range_search(1, zeros.data(), 0.5f, &above);
    EXPECT_EQ(below.lims[1], size_t(ds.nb));
    for (size_t t = 0; t < below.lims[1]; ++t) EXPECT_EQ(below.distances[t], 0.0f);
    EXPECT_EQ(above.lims[1], size_t(0));
    auto dc = idx->make_distance_computer(Estimator::kRenorm);
    dc->set_query(zeros.data());
    EXPECT_EQ((*dc)(0), 0.0f);
    EXPECT_EQ((*dc)(idx_t(ds.nb) - 1), 0.0f);
    // NaN / Inf queries keep their errors.
    std::vector<float> nan_q(ds.queries.begin(), ds.queries.begin() + ds.d);
    nan_q[4] = std::nanf("");
    expect_error([&] { idx->search(1, nan_q.data(), k, D.data(), I.data()); },
                 "IndexTurboQuant::search: vector 0 has a non-finite value");
    nan_q[4] = INFINITY;
    expect_error([&] { idx->range_search(1, nan_q.data(), 0.0f, &above); },
                 "IndexTurboQuant::range_search: vector 0 has a non-finite value");
  }
}

// HNSW over centered cosine storage, range_search and IDSelector search score rows like search does.
TEST(IndexTurboQuantCenter, CosineCenteredWrappersAndPathsAgreeWithSearch) {
  const auto& ds = data();
  auto flat = trained_filled(IndexMetric::kCosine, centered_options());
  const int k = 10;
  std::vector<float> D(ds.nq * k);
  std::vector<idx_t> I(ds.nq * k);
  flat->search(idx_t(ds.nq), ds.queries.data(), k, D.data(), I.data());

  // HNSW with a wide beam finds (nearly) the flat index's results, with the same distances.
  auto hnsw_any = tqsearch::index_factory(ds.d, "HNSW16,TQ4,Center", IndexMetric::kCosine);
  auto& hnsw = dynamic_cast<faiss::IndexHNSW&>(*hnsw_any);
  hnsw.train(idx_t(ds.nb), ds.base.data());
  hnsw.add(idx_t(ds.nb), ds.base.data());
  hnsw.hnsw.efSearch = 256;
  std::vector<float> Dh(ds.nq * k);
  std::vector<idx_t> Ih(ds.nq * k);
  hnsw.search(idx_t(ds.nq), ds.queries.data(), k, Dh.data(), Ih.data());
  size_t common = 0;
  for (size_t q = 0; q < ds.nq; ++q)
    for (int j = 0; j < k; ++j)
      for (int t = 0; t < k; ++t)
        if (Ih[q * k + j] == I[q * k + t]) {
          ++common;
          EXPECT_NEAR(Dh[q * k + j], D[q * k + t], 1e-3f * (1.0f + std::fabs(D[q * k + t])));
        }
  const double overlap = double(common) / double(ds.nq * k);
  std::printf("[hnsw] centered cosine HNSW16 (efSearch 256) vs flat search: overlap %.3f\n", overlap);
  EXPECT_GE(overlap, 0.9);

  // IDSelector: the odd rows only; same distances as search for the odd rows search returns.
  struct Odd : faiss::IDSelector {
    bool is_member(idx_t id) const override { return id % 2 == 1; }
  } odd;
  SearchParametersTurboQuant sp;
  sp.sel = &odd;
  std::vector<float> Ds(ds.nq * k);
  std::vector<idx_t> Is(ds.nq * k);
  flat->search(idx_t(ds.nq), ds.queries.data(), k, Ds.data(), Is.data(), &sp);
  for (size_t q = 0; q < ds.nq; ++q) {
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(Is[q * k + j] % 2, 1);
      if (j > 0) {
        EXPECT_GE(Ds[q * k + j - 1], Ds[q * k + j]);
      }
    }
    for (int j = 0; j < k; ++j) {
      for (int t = 0; t < k; ++t) {
        if (I[q * k + j] == Is[q * k + t]) {
          EXPECT_NEAR(Ds[q * k + t], D[q * k + j], 1e-3f * (1.0f + std::fabs(D[q * k + j])));
        }
      }
    }
  }
  // range_search below the 5th distance holds search's first four rows, with their distances, for every query.
  for (size_t q = 0; q < ds.nq; ++q) {
    faiss::RangeSearchResult one(1);
    const float radius = D[q * k + 4] - 1e-3f;
    flat->range_search(1, ds.queries.data() + q * ds.d, radius, &one);
    for (int j = 0; j < 4; ++j) {
      bool found = false;
      for (size_t t = one.lims[0]; t < one.lims[1]; ++t) {
        if (one.labels[t] != I[q * k + j]) continue;
        found = true;
        EXPECT_NEAR(one.distances[t], D[q * k + j], 1e-3f * (1.0f + std::fabs(D[q * k + j])));
      }
      EXPECT_TRUE(found) << "query " << q << " rank " << j;
    }
    for (size_t t = one.lims[0]; t < one.lims[1]; ++t) EXPECT_GT(one.distances[t], radius);
  }

  // Save / load: identical results (the rule follows from the stored metric and center flag).
  faiss::VectorIOWriter w;
  tqsearch::write_index(flat.get(), &w);
  faiss::VectorIOReader r;
  r.data = w.data;
  auto back = tqsearch::read_index(&r);
  std::vector<float> D2(ds.nq * k);
  std::vector<idx_t> I2(ds.nq * k);
  back->search(idx_t(ds.nq), ds.queries.data(), k, D2.data(), I2.data());
  EXPECT_EQ(I, I2);
  EXPECT_EQ(D, D2);
  EXPECT_TRUE(dynamic_cast<IndexTurboQuant&>(*back).ranks_as_l2());
}

}  // namespace
}  // namespace tqsearch
