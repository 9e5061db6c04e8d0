// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// GpuIndexTurboQuant search vs the CPU FlatScanner on the same codes, sharding, padding, bad input.
#include "gpu/gpu_index_turbo_quant.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "gpu_test_util.h"
#include "gpu/internal/device_buffer.cuh"
#include "gpu/internal/nibble_layout.h"
#include "quant/error.h"
#include "quant/lloyd_max_codebook.h"

namespace tqsearch::gpu {
namespace {

using testing::clustered;
using testing::cpu_search;

TurboQuantizerOptions opts(double bits, bool renorm, bool qjl = false, QjlKind kind = QjlKind::kStructured) {
  TurboQuantizerOptions o;
  o.bits = bits;
  o.store_renorm = renorm;
  o.qjl = qjl;
  o.qjl_kind = kind;
  return o;
}

/// fold_renorm codes: ‖x‖/ρ in the norm slot (f32, or f16), no separate ρ.
TurboQuantizerOptions folded(double bits, bool fp16) {
  TurboQuantizerOptions o = opts(bits, true);
  o.fold_renorm = true;
  o.fp16_norm = fp16;
  return o;
}

const char* est_name(Estimator e) { return e == Estimator::kMse ? "mse" : e == Estimator::kRenorm ? "renorm" : "qjl"; }

/// With rerank over every vector (k·rerank_factor ≥ n) both sides rescore all codes with the same float
/// arithmetic: ids and distances must be identical, ties included (both order by score, then smaller id).
void expect_identical(const std::vector<float>& Dg, const std::vector<int64_t>& Ig, const std::vector<float>& Dc,
                      const std::vector<int64_t>& Ic, const std::string& what) {
  ASSERT_EQ(Ig.size(), Ic.size());
  size_t mism = 0;
  for (size_t i = 0; i < Ig.size(); ++i) {
    if (Ig[i] != Ic[i] || !(Dg[i] == Dc[i])) {
      if (++mism <= 5)
        ADD_FAILURE() << what << " position " << i << ": GPU (" << Ig[i] << ", " << Dg[i] << ") CPU (" << Ic[i] << ", "
                      << Dc[i] << ")";
    }
  }
  EXPECT_EQ(mism, 0u) << what;
}

TEST(GpuIndexTurboQuant, ThrowsClearErrorWithoutDevice) {
  if (device_count() > 0) GTEST_SKIP() << "a CUDA device is present; this test covers machines without one";
  try {
    GpuIndexTurboQuant index(64, {}, Metric::kInnerProduct);
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

TEST(GpuIndexTurboQuant, SameResultsAsCpuWithFullRerank) {
  TQ_REQUIRE_GPU();
  const uint64_t seed = 4242;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  const size_t n = 1500;
  struct Case {
    int d;
    TurboQuantizerOptions o;
    Estimator est;
  };
  const std::vector<Case> cases = {
      {64, opts(4, true), Estimator::kRenorm},
      {100, opts(4, true), Estimator::kMse},
      {96, opts(2, true), Estimator::kRenorm},
      {72, opts(2.5, true), Estimator::kRenorm},
      {80, opts(3.5, true), Estimator::kRenorm},
      {128, opts(8, false), Estimator::kMse},
      {64, opts(3, true, true), Estimator::kQjl},
      {48, opts(2, true, true, QjlKind::kGaussian), Estimator::kQjl},
      {200, opts(4, true), Estimator::kRenorm},  // 7 chunks: the scan's unrolled groups and its tail
      {100, folded(4, true), Estimator::kRenorm},    // ‖x‖/ρ in an f16 slot (inner product only)
      {80, folded(3.5, false), Estimator::kRenorm},  // ‖x‖/ρ in an f32 slot
  };
  for (const Case& c : cases) {
    for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
      if (c.o.fold_renorm && metric == Metric::kL2) continue;  // refused: L2 needs ‖x‖² (RejectsBadInput)
      GpuIndexTurboQuant index(c.d, c.o, metric);
      const std::vector<float> x = clustered(n, c.d, 20, 0.6f, seed + c.d);
      index.add(n, x.data());
      const std::vector<uint8_t> codes = index.codes();
      // 1, 7: one query group, rows g + 8 skipped; 12: one full group; 45, 130: two groups and partial passes.
      for (size_t nq : {size_t(1), size_t(7), size_t(12), size_t(45), size_t(130)}) {
        const std::vector<float> q = clustered(nq, c.d, 20, 0.6f, seed + 1000 + nq);
        const int k = 10;
        FlatSearchParams cp;
        cp.estimator = c.est;
        cp.rerank_factor = 200;  // k·200 ≥ n: every vector reranked
        cp.qjl_prune_z = 0;
        std::vector<float> Dc;
        std::vector<int64_t> Ic;
        cpu_search(index.quantizer(), metric, codes, nq, q.data(), k, cp, &Dc, &Ic);
        for (int gemm : {0, 1}) {
          GpuSearchParams gp;
          gp.estimator = c.est;
          gp.rerank_factor = 200;
          gp.gemm_min_batch = gemm;  // 0: fused scan only; 1: GEMM path for every batch
          std::vector<float> Dg(nq * k, std::numeric_limits<float>::quiet_NaN());
          std::vector<int64_t> Ig(nq * k, -7);
          GpuSearchStats st;
          index.search(nq, q.data(), k, gp, Dg.data(), Ig.data(), &st);
          EXPECT_EQ(st.used_gemm, gemm == 1);
          EXPECT_EQ(st.reranked, nq * n);
          char what[200];
          std::snprintf(what, sizeof what, "d=%d bits=%.1f %s %s nq=%zu %s", c.d, c.o.bits, est_name(c.est),
                        metric == Metric::kL2 ? "L2" : "IP", nq, gemm ? "gemm" : "fused");
          expect_identical(Dg, Ig, Dc, Ic, what);
        }
      }
    }
  }
}

/// Host model of the nibble-mode scan score of one code for one query (renorm estimator, inner product):
/// (‖x‖/ρ · qscale·tscale/2) · (2·Σ q8·v + Σ q8) with the sign/magnitude table (gpu/internal/nibble_layout.h), q8 the
/// query's rotated coordinates rounded in units of max|Πq|/127 — the GPU's arithmetic, operation for operation.
float host_scan_score(const TurboQuantizer& tq, const PreparedQuery& pq, const uint8_t* code) {
  const int d = tq.d();
  const BitAllocation& a = tq.allocation();
  const std::vector<float> empty;
  const std::vector<float>& ch = a.num_high() > 0 ? tq.codebook(a.high_bits()).centroids() : empty;
  const std::vector<float>& cl = tq.codebook(a.low_bits()).centroids();
  const int nhigh = a.num_high() > 0 ? 1 << a.high_bits() : 0;
  const internal::NibbleTable nt =
      internal::make_nibble_table(ch.data(), nhigh, cl.data(), 1 << a.low_bits());
  float m = 0;
  for (float v : pq.rotated) m = std::max(m, std::fabs(v));
  const float sc = m / 127.0f;
  std::vector<uint8_t> idx(d);
  tq.unpack_indices(code, idx.data());
  int acc = 0, sum = 0;
  for (int j = 0; j < d; ++j) {
    const int q8 = sc > 0 ? std::max(-127, std::min(127, static_cast<int>(std::nearbyint(pq.rotated[j] / sc)))) : 0;
    const int t = idx[j] + (j < a.num_high() ? 0 : nhigh);
    acc += q8 * internal::nibble_value(nt.magnitude, nt.code[t]);
    sum += q8;
  }
  const VectorFactors f = tq.factors(code);
  const float factor = f.norm / f.renorm;
  const float qa = sc * (0.5f * nt.tscale);
  return (factor * qa) * static_cast<float>(2 * acc + sum);
}

/// The scan's own results (renorm scores, no rerank) of the fused scan ([0]) and the int8 GEMM path ([1]).
struct PathResults {
  std::vector<float> D[2];
  std::vector<int64_t> I[2];
};
PathResults search_both_paths(const GpuIndexTurboQuant& index, size_t nq, const float* q, int k) {
  PathResults r;
  GpuSearchParams gp;
  gp.estimator = Estimator::kRenorm;
  gp.rerank_factor = 0;
  for (int gemm : {0, 1}) {
    gp.gemm_min_batch = gemm;
    r.D[gemm].assign(nq * k, std::numeric_limits<float>::quiet_NaN());
    r.I[gemm].assign(nq * k, -7);
    GpuSearchStats st;
    index.search(nq, q, k, gp, r.D[gemm].data(), r.I[gemm].data(), &st);
    EXPECT_EQ(st.used_gemm, gemm == 1);
  }
  return r;
}

/// The scan's own scores (no rerank, no refine): the fused tensor-core scan and the int8 GEMM path return the same
/// ids and distances (both add the ½-offset term Σ q8 to the same integers), and for inner product in nibble mode
/// every distance is the host model's score of that id, bit for bit.
TEST(GpuIndexTurboQuant, ScanScoresMatchBetweenPathsAndTheHostModel) {
  TQ_REQUIRE_GPU();
  const uint64_t seed = 5151;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  const size_t n = 2500;
  const int k = 10;
  for (double bits : {1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0}) {  // 3.5: byte mode (16 + 8 levels), paths only
    for (int d : {72, 100, 200}) {
      for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
        GpuIndexTurboQuant index(d, opts(bits, true), metric);
        const std::vector<float> x = clustered(n, d, 20, 0.6f, seed + d);
        index.add(n, x.data());
        const std::vector<uint8_t> codes = index.codes();
        const TurboQuantizer& tq = index.quantizer();
        const BitAllocation& a = tq.allocation();
        const bool nibble = (a.num_high() == 0 ? a.low_bits() <= 4 : (1 << a.high_bits()) + (1 << a.low_bits()) <= 16);
        for (size_t nq : {size_t(1), size_t(7), size_t(12), size_t(45)}) {
          const std::vector<float> q = clustered(nq, d, 20, 0.6f, seed + 7 * nq + d);
          const PathResults res = search_both_paths(index, nq, q.data(), k);
          const auto& D = res.D;
          const auto& I = res.I;
          char what[160];
          std::snprintf(what, sizeof what, "bits=%.1f d=%d %s nq=%zu fused vs gemm", bits, d,
                        metric == Metric::kL2 ? "L2" : "IP", nq);
          expect_identical(D[0], I[0], D[1], I[1], what);
          if (!nibble || metric != Metric::kInnerProduct) continue;
          for (size_t i = 0; i < nq; ++i) {
            const PreparedQuery pq = tq.prepare_query(q.data() + i * d);
            for (int r = 0; r < k; ++r) {
              const int64_t id = I[0][i * k + r];
              ASSERT_GE(id, 0) << what;
              ASSERT_EQ(D[0][i * k + r], host_scan_score(tq, pq, codes.data() + id * tq.code_size()))
                  << what << " query " << i << " rank " << r << " id " << id;
            }
          }
        }
      }
    }
  }
}

/// Enough tiles that every warp of the fused scan runs several rounds (at most 8 blocks of 8 warps per SM, so
/// n = 3·(32·8·8)·SMs vectors give ≥ 3 rounds): the block's top-K lists overflow, compact and re-offer across rounds
/// and the cached thresholds are reloaded between them. The fused scan's scores and ids (rerank off) must equal
/// the int8 GEMM path's, which has no rounds, for IP and L2, one and several query groups, small and large K.
TEST(GpuIndexTurboQuant, MultiRoundScanMatchesTheGemmPath) {
  TQ_REQUIRE_GPU();
  const uint64_t seed = 777;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  const size_t n = size_t(3) * 32 * 8 * 8 * size_t(sms) + 17;  // + a partial tile
  const int d = 64;
  const std::vector<float> x = clustered(n, d, 50, 0.5f, seed);
  for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
    GpuIndexTurboQuant index(d, opts(4, true), metric);
    index.add(n, x.data());
    for (size_t nq : {size_t(1), size_t(12), size_t(32)}) {
      for (int k : {10, 100}) {
        const std::vector<float> q = clustered(nq, d, 50, 0.5f, seed + nq);
        const PathResults res = search_both_paths(index, nq, q.data(), k);
        char what[128];
        std::snprintf(what, sizeof what, "n=%zu %s nq=%zu k=%d fused vs gemm", n,
                      metric == Metric::kL2 ? "L2" : "IP", nq, k);
        expect_identical(res.D[0], res.I[0], res.D[1], res.I[1], what);
      }
    }
  }
}

/// Beyond d ≈ 14k a fused scan block's int8 query rows no longer fit in shared memory: the automatic path choice
/// takes the GEMM path, with the same results as the CPU (full rerank), and forcing the fused scan says why not.
TEST(GpuIndexTurboQuant, LargeDimensionSearchesThroughTheGemmPath) {
  TQ_REQUIRE_GPU();
  const uint64_t seed = 16000;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  const int d = 16000, k = 5;
  const size_t n = 300, nq = 3;
  GpuIndexTurboQuant index(d, opts(4, true), Metric::kInnerProduct);
  const std::vector<float> x = clustered(n, d, 8, 0.6f, seed);
  index.add(n, x.data());
  const std::vector<float> q = clustered(nq, d, 8, 0.6f, seed + 1);
  FlatSearchParams cp;
  cp.estimator = Estimator::kRenorm;
  cp.rerank_factor = 100;  // every vector reranked
  std::vector<float> Dc;
  std::vector<int64_t> Ic;
  cpu_search(index.quantizer(), Metric::kInnerProduct, index.codes(), nq, q.data(), k, cp, &Dc, &Ic);
  GpuSearchParams gp;
  gp.estimator = Estimator::kRenorm;
  gp.rerank_factor = 100;
  std::vector<float> Dg(nq * k);
  std::vector<int64_t> Ig(nq * k);
  GpuSearchStats st;
  index.search(nq, q.data(), k, gp, Dg.data(), Ig.data(), &st);
  EXPECT_TRUE(st.used_gemm);
  expect_identical(Dg, Ig, Dc, Ic, "d=16000 automatic path");
  gp.gemm_min_batch = 0;  // fused scan forced
  try {
    index.search(nq, q.data(), k, gp, Dg.data(), Ig.data());
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shared memory"), std::string::npos) << e.what();
  }
}

/// Default rerank depth: the GPU and CPU scans approximate differently (int8 dot products vs uint8 LUTs), so
/// their candidate lists can differ; after the exact rerank both return the estimator's top-k wherever it is in
/// their candidates. Checked: every GPU (id, distance) is the CPU estimator's value for that id (bit-equal), the
/// GPU recall against the estimator's exact top-k is as good as the CPU's (within 1%), and the ids agree.
void check_default_rerank(const std::string& what, int d, const std::vector<float>& x, const std::vector<float>& q,
                          Metric metric, const TurboQuantizerOptions& o, Estimator est, double min_agree) {
  const size_t n = x.size() / d, nq = q.size() / d;
  const int k = 10;
  GpuIndexConfig one;  // one shard, as the CPU index: several shards rerank k·rerank_factor candidates each
  one.devices = {0};
  GpuIndexTurboQuant index(d, o, metric, one);
  index.add(n, x.data());
  const std::vector<uint8_t> codes = index.codes();
  FlatSearchParams cp;
  cp.estimator = est;
  cp.qjl_prune_z = 0;
  std::vector<float> Dc, Dx;
  std::vector<int64_t> Ic, Ix;
  cpu_search(index.quantizer(), metric, codes, nq, q.data(), k, cp, &Dc, &Ic);
  {  // the estimator's exact top-k: rescore everything on the CPU
    const TurboQuantizer& tq = index.quantizer();
    Dx.assign(nq * k, 0);
    Ix.assign(nq * k, 0);
    for (size_t i = 0; i < nq; ++i) {
      const PreparedQuery pq = tq.prepare_query(q.data() + i * d);
      std::vector<std::pair<float, int64_t>> all(n);
      for (size_t v = 0; v < n; ++v) {
        const uint8_t* code = codes.data() + v * tq.code_size();
        const float ip = tq.inner_product(pq, code, est);
        const float nn = tq.factors(code).norm;
        all[v] = {metric == Metric::kL2 ? 2 * ip - nn * nn : ip, int64_t(v)};
      }
      std::partial_sort(all.begin(), all.begin() + k, all.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      for (int r = 0; r < k; ++r) Ix[i * k + r] = all[r].second;
    }
  }
  GpuSearchParams gp;
  gp.estimator = est;
  for (int gemm : {0, 1}) {
    gp.gemm_min_batch = gemm;
    std::vector<float> Dg(nq * k, std::numeric_limits<float>::quiet_NaN());
    std::vector<int64_t> Ig(nq * k, -7);
    index.search(nq, q.data(), k, gp, Dg.data(), Ig.data());
    size_t agree = 0, hit_g = 0, hit_c = 0;
    const TurboQuantizer& tq = index.quantizer();
    for (size_t i = 0; i < nq; ++i) {
      const std::set<int64_t> truth(Ix.begin() + i * k, Ix.begin() + (i + 1) * k);
      const PreparedQuery pq = tq.prepare_query(q.data() + i * d);
      for (int r = 0; r < k; ++r) {
        const int64_t id = Ig[i * k + r];
        ASSERT_GE(id, 0) << what;
        const uint8_t* code = codes.data() + id * tq.code_size();
        const float ip = tq.inner_product(pq, code, est);
        const float nn = tq.factors(code).norm;
        const float expect = metric == Metric::kL2 ? pq.norm * pq.norm - (2 * ip - nn * nn) : ip;
        ASSERT_EQ(Dg[i * k + r], expect) << what << " query " << i << " rank " << r << " id " << id;
        if (r > 0) {
          if (metric == Metric::kL2) {
            ASSERT_GE(Dg[i * k + r], Dg[i * k + r - 1]) << what;
          } else {
            ASSERT_LE(Dg[i * k + r], Dg[i * k + r - 1]) << what;
          }
        }
        agree += Ig[i * k + r] == Ic[i * k + r];
        hit_g += truth.count(Ig[i * k + r]);
        hit_c += truth.count(Ic[i * k + r]);
      }
    }
    const double total = double(nq) * k;
    std::printf("%s %s: ids equal to CPU %.4f, recall vs estimator top-k GPU %.4f CPU %.4f\n", what.c_str(),
                gemm ? "gemm" : "fused", agree / total, hit_g / total, hit_c / total);
    EXPECT_GE(hit_g / total, hit_c / total - 0.01) << what;
    EXPECT_GE(agree / total, min_agree) << what;
  }
}

TEST(GpuIndexTurboQuant, SameIdsAsCpuOnRealData) {
  TQ_REQUIRE_GPU();
  int d = 0, dq = 0;
  const std::string sift = testing::find_data("siftsmall/base.fvecs");
  const std::string glove = testing::find_data("glove-100-angular/base.fvecs");
  if (sift.empty() && glove.empty())
    GTEST_SKIP() << "no real data: neither siftsmall nor glove-100-angular under " << TQSEARCH_GPU_DATA_DIR << " or "
                 << TQSEARCH_DATA_DIR << " (scripts/gpu-check copies a sample into carry/data)";
  if (!sift.empty()) {
    const std::vector<float> x = testing::read_fvecs(sift, 10000, &d);
    const std::vector<float> q =
        testing::read_fvecs(testing::find_data("siftsmall/query.fvecs"), 100, &dq);
    ASSERT_EQ(d, dq);
    check_default_rerank("siftsmall L2 4-bit renorm", d, x, q, Metric::kL2, opts(4, true), Estimator::kRenorm, 0.97);
  }
  if (!glove.empty()) {
    const std::vector<float> x = testing::read_fvecs(glove, 20000, &d);
    const std::vector<float> q =
        testing::read_fvecs(testing::find_data("glove-100-angular/query.fvecs"), 200, &dq);
    ASSERT_EQ(d, dq);
    check_default_rerank("glove 20k IP 4-bit renorm", d, x, q, Metric::kInnerProduct, opts(4, true),
                         Estimator::kRenorm, 0.97);
    check_default_rerank("glove 20k IP 2-bit mse", d, x, q, Metric::kInnerProduct, opts(2, false), Estimator::kMse,
                         0.9);
  }
}

TEST(GpuIndexTurboQuant, SameIdsAsCpuOnRandomData) {
  TQ_REQUIRE_GPU();
  const int d = 128;
  const std::vector<float> x = clustered(30000, d, 100, 0.4f, 99);
  const std::vector<float> q = clustered(300, d, 100, 0.4f, 100);
  check_default_rerank("clustered 30k IP 4-bit renorm", d, x, q, Metric::kInnerProduct, opts(4, true),
                       Estimator::kRenorm, 0.97);
  check_default_rerank("clustered 30k L2 3-bit QJL", d, x, q, Metric::kL2, opts(3, true, true), Estimator::kQjl,
                       0.9);
}

TEST(GpuIndexTurboQuant, CodesTravelBothWays) {
  TQ_REQUIRE_GPU();
  const int d = 100, n = 1200, nq = 20, k = 5;
  const TurboQuantizerOptions o = opts(4, true);
  const std::vector<float> x = clustered(n, d, 10, 0.5f, 5);
  const std::vector<float> q = clustered(nq, d, 10, 0.5f, 6);
  // CPU-built codes searched on the GPU.
  TurboQuantizer tq(d, o);
  std::vector<uint8_t> cpu_codes(n * tq.code_size());
  tq.encode(n, x.data(), cpu_codes.data());
  GpuIndexTurboQuant from_cpu(d, o, Metric::kL2);
  from_cpu.add_codes(n, cpu_codes.data());
  EXPECT_EQ(from_cpu.codes(), cpu_codes);
  // GPU-built codes searched on the CPU.
  GpuIndexTurboQuant built(d, o, Metric::kL2);
  built.add(n, x.data());
  const std::vector<uint8_t> gpu_codes = built.codes();
  FlatSearchParams cp;
  cp.estimator = Estimator::kRenorm;
  cp.rerank_factor = 1000;
  std::vector<float> Dc;
  std::vector<int64_t> Ic;
  cpu_search(tq, Metric::kL2, gpu_codes, nq, q.data(), k, cp, &Dc, &Ic);
  GpuSearchParams gp;
  gp.estimator = Estimator::kRenorm;
  gp.rerank_factor = 1000;
  for (GpuIndexTurboQuant* idx : {&from_cpu, &built}) {
    std::vector<float> Dg(nq * k);
    std::vector<int64_t> Ig(nq * k);
    idx->search(nq, q.data(), k, gp, Dg.data(), Ig.data());
    expect_identical(Dg, Ig, Dc, Ic, idx == &built ? "GPU-built codes" : "CPU-built codes");
  }
}

TEST(GpuIndexTurboQuant, ShardedSearchEqualsSingleShard) {
  TQ_REQUIRE_GPU();
  const int d = 64, k = 10;
  const TurboQuantizerOptions o = opts(4, true);
  const std::vector<float> x = clustered(1800, d, 30, 0.5f, 11);
  const std::vector<float> q = clustered(40, d, 30, 0.5f, 12);
  GpuIndexConfig one;
  one.devices = {0};
  GpuIndexConfig three;
  three.devices = {0, 0, 0};  // three shards on one GPU exercise the split and the merge
  three.add_batch = 97;       // and small encode batches
  for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
    GpuIndexTurboQuant a(d, o, metric, one), b(d, o, metric, three);
    ASSERT_EQ(b.num_shards(), 3);
    for (auto* idx : {&a, &b}) {  // three adds of different sizes
      idx->add(700, x.data());
      idx->add(1, x.data() + 700 * d);
      idx->add(1099, x.data() + 701 * d);
    }
    EXPECT_EQ(a.codes(), b.codes());
    for (int rf : {1000, 4}) {
      GpuSearchParams gp;
      gp.estimator = Estimator::kRenorm;
      gp.rerank_factor = rf;
      std::vector<float> Da(40 * k), Db(40 * k);
      std::vector<int64_t> Ia(40 * k), Ib(40 * k);
      a.search(40, q.data(), k, gp, Da.data(), Ia.data());
      b.search(40, q.data(), k, gp, Db.data(), Ib.data());
      if (rf == 1000) {
        expect_identical(Db, Ib, Da, Ia, "3 shards vs 1, full rerank");
      } else {  // per-shard candidate lists are deeper: at least as good; identical distances where ids agree
        size_t same = 0;
        for (size_t i = 0; i < Ia.size(); ++i) same += Ia[i] == Ib[i];
        EXPECT_GE(double(same) / Ia.size(), 0.95);
      }
    }
  }
}

TEST(GpuIndexTurboQuant, ShardsOverEveryVisibleGpu) {
  TQ_REQUIRE_GPU();
  if (device_count() < 2) GTEST_SKIP() << "needs at least 2 CUDA devices, found " << device_count();
  const int d = 96, k = 10, nq = 64;
  const std::vector<float> x = clustered(2000, d, 30, 0.5f, 21);
  const std::vector<float> q = clustered(nq, d, 30, 0.5f, 22);
  GpuIndexConfig one;
  one.devices = {0};
  GpuIndexTurboQuant a(d, opts(4, true), Metric::kL2, one), all(d, opts(4, true), Metric::kL2);
  ASSERT_EQ(all.num_shards(), device_count());
  a.add(2000, x.data());
  all.add(700, x.data());
  all.add(1300, x.data() + 700 * d);
  EXPECT_EQ(a.codes(), all.codes());
  for (int gemm : {0, 1}) {
    GpuSearchParams gp;
    gp.estimator = Estimator::kRenorm;
    gp.rerank_factor = 200;  // k·200 = n: every vector reranked on both, identical results
    gp.gemm_min_batch = gemm;
    std::vector<float> Da(nq * k), Db(nq * k);
    std::vector<int64_t> Ia(nq * k), Ib(nq * k);
    a.search(nq, q.data(), k, gp, Da.data(), Ia.data());
    all.search(nq, q.data(), k, gp, Db.data(), Ib.data());
    expect_identical(Db, Ib, Da, Ia, gemm ? "all GPUs vs one, GEMM path" : "all GPUs vs one, fused scan");
  }
}

TEST(GpuIndexTurboQuant, EveryOutputWrittenAndPadded) {
  TQ_REQUIRE_GPU();
  const int d = 32;
  const std::vector<float> x = clustered(6, d, 2, 0.5f, 1);
  const std::vector<float> q = clustered(3, d, 2, 0.5f, 2);
  for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
    GpuIndexTurboQuant index(d, opts(4, true), metric);
    const int k = 9;  // > ntotal once added
    std::vector<float> D(3 * k, std::numeric_limits<float>::quiet_NaN());
    std::vector<int64_t> I(3 * k, -7);
    index.search(3, q.data(), k, {}, D.data(), I.data());  // empty index
    for (int r = 0; r < 3 * k; ++r) {
      EXPECT_EQ(I[r], -1);
      EXPECT_EQ(D[r], metric == Metric::kL2 ? FLT_MAX : -FLT_MAX);
    }
    index.add(6, x.data());
    for (int gemm : {0, 1}) {
      GpuSearchParams gp;
      gp.gemm_min_batch = gemm;
      std::fill(D.begin(), D.end(), std::numeric_limits<float>::quiet_NaN());
      std::fill(I.begin(), I.end(), -7);
      index.search(3, q.data(), k, gp, D.data(), I.data());
      for (int i = 0; i < 3; ++i) {
        std::set<int64_t> ids;
        for (int r = 0; r < k; ++r) {
          const float v = D[i * k + r];
          const int64_t id = I[i * k + r];
          ASSERT_FALSE(std::isnan(v)) << "unwritten distance at " << i << "," << r;
          if (r < 6) {
            ASSERT_GE(id, 0);
            ASSERT_LT(id, 6);
            ids.insert(id);
          } else {
            ASSERT_EQ(id, -1);
            ASSERT_EQ(v, metric == Metric::kL2 ? FLT_MAX : -FLT_MAX);
          }
        }
        EXPECT_EQ(ids.size(), 6u);
      }
    }
  }
}

TEST(GpuIndexTurboQuant, RejectsBadInput) {
  TQ_REQUIRE_GPU();
  const int d = 16;
  GpuIndexTurboQuant index(d, opts(4, false), Metric::kInnerProduct);
  const std::vector<float> x = clustered(50, d, 2, 0.5f, 1);
  index.add(50, x.data());
  std::vector<float> D(50 * 2000);
  std::vector<int64_t> I(50 * 2000);
  EXPECT_THROW(index.search(1, x.data(), 0, {}, D.data(), I.data()), Error);
  EXPECT_THROW(index.search(1, x.data(), 1025, {}, D.data(), I.data()), Error);
  GpuSearchParams renorm;
  renorm.estimator = Estimator::kRenorm;  // codes built without store_renorm
  EXPECT_THROW(index.search(1, x.data(), 5, renorm, D.data(), I.data()), Error);
  try {
    GpuIndexTurboQuant l2(d, folded(4, true), Metric::kL2);
    ADD_FAILURE() << "L2 over fold_renorm codes was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fold_renorm"), std::string::npos) << e.what();
  }
  GpuIndexTurboQuant fold(d, folded(4, false), Metric::kInnerProduct);
  fold.add(50, x.data());
  EXPECT_THROW(fold.search(1, x.data(), 5, {}, D.data(), I.data()), Error);  // default mse: ‖x‖ is not kept
  GpuSearchParams neg;
  neg.rerank_factor = -1;
  EXPECT_THROW(index.search(1, x.data(), 5, neg, D.data(), I.data()), Error);
  std::vector<float> bad(x.begin(), x.begin() + d);
  bad[3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(index.search(1, bad.data(), 5, {}, D.data(), I.data()), Error);
  // A NaN in the third of three queries (checked on the GPU): the message names the query and the column, on the
  // fused and the GEMM path, and on an empty index (checked on the host).
  std::vector<float> three(x.begin(), x.begin() + 3 * d);
  three[2 * d + 5] = std::numeric_limits<float>::quiet_NaN();
  GpuIndexTurboQuant empty(d, opts(4, false), Metric::kInnerProduct);
  for (int gemm : {0, 1, 2}) {
    GpuSearchParams p;
    p.gemm_min_batch = gemm == 2 ? 0 : gemm;
    try {
      (gemm == 2 ? empty : index).search(3, three.data(), 5, p, D.data(), I.data());
      FAIL() << "expected tqsearch::Error";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_TRUE(m.find("query 2") != std::string::npos || m.find("row 2") != std::string::npos) << m;
      EXPECT_NE(m.find("column 5"), std::string::npos) << m;
    }
  }
  EXPECT_NO_THROW(index.search(1, x.data(), 5, {}, D.data(), I.data()));  // still usable
  EXPECT_GE(I[0], 0);
  EXPECT_THROW(index.search(1, nullptr, 5, {}, D.data(), I.data()), Error);
  EXPECT_THROW(index.add(1, nullptr), Error);
  EXPECT_THROW(GpuIndexTurboQuant(0, {}, Metric::kInnerProduct), Error);
  GpuIndexConfig cfg;
  cfg.devices = {device_count()};
  EXPECT_THROW(GpuIndexTurboQuant(d, {}, Metric::kInnerProduct, cfg), Error);
}

TEST(GpuIndexTurboQuant, OutOfMemoryBecomesAnError) {
  TQ_REQUIRE_GPU();
  try {
    internal::DeviceBuffer<uint8_t> huge(size_t(1) << 50, "test buffer");  // 1 PiB
    FAIL() << "expected tqsearch::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
  }
  // The device stays usable.
  const int d = 16;
  GpuIndexTurboQuant index(d, opts(4, false), Metric::kInnerProduct);
  const std::vector<float> x = clustered(100, d, 2, 0.5f, 1);
  index.add(100, x.data());
  std::vector<float> D(10);
  std::vector<int64_t> I(10);
  index.search(1, x.data(), 10, {}, D.data(), I.data());
  EXPECT_EQ(I[0], 0);
}

}  // namespace
}  // namespace tqsearch::gpu
