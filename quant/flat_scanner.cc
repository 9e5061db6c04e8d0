// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/flat_scanner.h"

#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "quant/error.h"

namespace tqsearch {
namespace {

struct Cand {
  float s;
  int64_t id;
};
// Min-heap on score (worst candidate on top); ties: the larger id is worse.
inline bool worse_first(const Cand& a, const Cand& b) { return a.s > b.s || (a.s == b.s && a.id < b.id); }

class TopK {
 public:
  explicit TopK(size_t cap) : cap_(cap) { h_.reserve(cap); }
  float threshold() const { return h_.size() < cap_ ? -INFINITY : h_.front().s; }
  void push(float s, int64_t id) {
    if (h_.size() < cap_) {
      h_.push_back({s, id});
      std::push_heap(h_.begin(), h_.end(), worse_first);
    } else if (s > h_.front().s) {
      std::pop_heap(h_.begin(), h_.end(), worse_first);
      h_.back() = {s, id};
      std::push_heap(h_.begin(), h_.end(), worse_first);
    }
  }
  std::vector<Cand>& items() { return h_; }

 private:
  size_t cap_;
  std::vector<Cand> h_;
};

constexpr size_t kChunkBlocks = 64;  // 2048 vectors per kernel call: accumulators stay in L1/L2

}  // namespace

FlatScanner::FlatScanner(const TurboQuantizer& tq, Metric metric) : tq_(tq), metric_(metric), codes_(tq) {
  TQ_CHECK(metric == Metric::kInnerProduct || metric == Metric::kL2,
           "FlatScanner: metric must be inner product (0) or L2 (1), got " << static_cast<uint32_t>(metric));
}

void FlatScanner::reset() {
  codes_.clear();
  mult_norm_.clear();
  mult_renorm_.clear();
  neg_sqnorm_.clear();
}

size_t FlatScanner::memory_bytes() const {
  return codes_.memory_bytes() +
         sizeof(float) * (mult_norm_.capacity() + mult_renorm_.capacity() + neg_sqnorm_.capacity());
}

void FlatScanner::add(size_t n, const uint8_t* row_codes) {
  if (n == 0) return;
  TQ_CHECK(row_codes != nullptr, "FlatScanner::add: null codes");
  const size_t n0 = codes_.size();
  codes_.add(n, row_codes);
  const size_t padded = codes_.num_blocks() * FastScanCodes::kBlock;
  const float k = metric_ == Metric::kL2 ? 2.0f : 1.0f;
  mult_norm_.resize(padded, 0.0f);
  mult_renorm_.resize(padded, 0.0f);
  if (metric_ == Metric::kL2) neg_sqnorm_.resize(padded, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    const VectorFactors f = tq_.factors(row_codes + i * tq_.code_size());
    mult_norm_[n0 + i] = k * f.norm;
    mult_renorm_[n0 + i] = k * f.norm / f.renorm;
    if (metric_ == Metric::kL2) neg_sqnorm_[n0 + i] = -f.norm * f.norm;
  }
}

void FlatScanner::search(size_t nq, const float* queries, const uint8_t* row_codes, int k,
                         const FlatSearchParams& params, float* distances, int64_t* labels,
                         FlatSearchStats* stats) const {
  TQ_CHECK(k >= 1, "FlatScanner::search: k must be >= 1, got " << k);
  if (nq == 0) return;
  TQ_CHECK(queries != nullptr && distances != nullptr && labels != nullptr,
           "FlatScanner::search: null queries or outputs");
  TQ_CHECK(tq_.supports(params.estimator), "FlatScanner::search: estimator "
                                               << static_cast<uint32_t>(params.estimator)
                                               << " needs codes built with "
                                               << (params.estimator == Estimator::kRenorm ? "store_renorm" : "qjl"));
  TQ_CHECK(params.rerank_factor >= 0, "FlatScanner::search: rerank_factor must be >= 0, got " << params.rerank_factor);
  TQ_CHECK(params.query_batch >= 1 && params.query_batch <= 64,
           "FlatScanner::search: query_batch must be in 1..64, got " << params.query_batch);
  TQ_CHECK(simd_level_supported(params.level),
           "FlatScanner::search: SIMD level " << simd_level_name(params.level) << " is not supported by this CPU");
  const size_t ntotal = size();
  TQ_CHECK(ntotal == 0 || row_codes != nullptr, "FlatScanner::search: null row codes");
  const int d = tq_.d();
  for (size_t i = 0; i < nq * size_t(d); ++i)
    TQ_CHECK(std::isfinite(queries[i]), "FlatScanner::search: query " << i / d << " has a non-finite value ("
                                                                       << queries[i] << ") at column " << i % d);
  const bool l2 = metric_ == Metric::kL2;
  const float pad = l2 ? FLT_MAX : -FLT_MAX;
  if (ntotal == 0) {
    std::fill(distances, distances + nq * k, pad);
    std::fill(labels, labels + nq * k, int64_t(-1));
    return;
  }
  const bool rerank = params.rerank_factor > 0;
  size_t kc = size_t(k);
  if (rerank) kc = std::max({size_t(k) * params.rerank_factor, size_t(params.rerank_min), size_t(k)});
  kc = std::min(kc, ntotal);
  const float* mult = params.estimator == Estimator::kRenorm ? mult_renorm_.data() : mult_norm_.data();
  const float* add = l2 ? neg_sqnorm_.data() : nullptr;
  const size_t nblocks = codes_.num_blocks();
  const size_t bb = codes_.block_bytes();
  const int B = params.query_batch;
  const int nt = omp_get_max_threads();
  // Few queries: split the codes among threads (each keeps its own heaps, merged after). Many: split queries.
  TQ_CHECK(params.split_min_blocks >= 1,
           "FlatScanner::search: split_min_blocks must be >= 1, got " << params.split_min_blocks);
  const bool split_codes = nq < size_t(nt) * B && nblocks >= size_t(nt) * params.split_min_blocks && nt > 1;

  size_t total_reranked = 0, total_pruned = 0;

  // Scan blocks [b0, b1) for queries [q0, q0+nb) into heaps.
  auto scan = [&](const std::vector<PreparedQuery>& pq, const std::vector<QueryLut>& luts, size_t q0, int nb,
                  size_t b0, size_t b1, std::vector<TopK>& heaps) {
    std::vector<int32_t> acc(size_t(nb) * kChunkBlocks * 32);
    std::vector<float> scores(kChunkBlocks * 32);
    std::vector<uint32_t> pos(kChunkBlocks * 32);
    std::vector<const void*> lp(nb);
    for (int i = 0; i < nb; ++i) {
      const QueryLut& L = luts[q0 + i];
      lp[i] = codes_.int8_path() ? static_cast<const void*>(L.q8.data()) : static_cast<const void*>(L.lut.data());
    }
    (void)pq;
    for (size_t c0 = b0; c0 < b1; c0 += kChunkBlocks) {
      const size_t cb = std::min(kChunkBlocks, b1 - c0);
      internal::scan_blocks(params.level, codes_, codes_.data() + c0 * bb, cb, lp.data(), nb, acc.data(),
                            kChunkBlocks * 32);
      const size_t v0 = c0 * 32;
      const size_t nv = std::min(cb * 32, ntotal - v0);
      for (int i = 0; i < nb; ++i) {
        const QueryLut& L = luts[q0 + i];
        internal::accumulators_to_scores(params.level, acc.data() + size_t(i) * kChunkBlocks * 32, nv, mult + v0,
                                         add ? add + v0 : nullptr, L.scale, L.bias, scores.data());
        TopK& h = heaps[i];
        // Positions above the threshold at the start of the chunk; the threshold only rises, so re-check.
        const size_t m = internal::positions_above(params.level, scores.data(), nv, h.threshold(), pos.data());
        for (size_t t = 0; t < m; ++t) {
          const uint32_t v = pos[t];
          if (scores[v] > h.threshold()) h.push(scores[v], int64_t(v0 + v));
        }
      }
    }
  };

  // Rerank one query's candidates and write its k results.
  auto finish = [&](const PreparedQuery& pq, std::vector<Cand>& cands, float* D, int64_t* I, size_t* reranked,
                    size_t* pruned) {
    const size_t cs = tq_.code_size();
    if (rerank) {
      const float z = params.qjl_prune_z;
      if (params.estimator == Estimator::kQjl && z > 0 && cands.size() > size_t(k)) {
        // Confidence interval per candidate: mse part ± z·σ, σ² = Var(QJL estimate) + spread of the true residual
        // term (≈ (1 + 2/π)·(π/2)·‖x‖²γ²‖q‖²/d). Candidates whose upper bound is below the k-th lower bound go.
        const float spread = std::sqrt(1.0f + 2.0f / 3.14159265f);
        std::vector<float> lo(cands.size()), hi(cands.size()), base(cands.size());
        for (size_t c = 0; c < cands.size(); ++c) {
          const uint8_t* code = row_codes + size_t(cands[c].id) * cs;
          const VectorFactors f = tq_.factors(code);
          const float ip = f.norm * tq_.dot_rotated(pq, code);
          const float sd = (l2 ? 2.0f : 1.0f) * spread * tq_.qjl_stddev(pq, code);
          base[c] = l2 ? 2 * ip - f.norm * f.norm : ip;
          lo[c] = base[c] - z * sd;
          hi[c] = base[c] + z * sd;
        }
        std::vector<float> los = lo;
        std::nth_element(los.begin(), los.begin() + (k - 1), los.end(), std::greater<float>());
        const float tau = los[k - 1];
        std::vector<Cand> kept;
        for (size_t c = 0; c < cands.size(); ++c) {
          if (hi[c] < tau) {
            ++*pruned;
            continue;
          }
          const uint8_t* code = row_codes + size_t(cands[c].id) * cs;
          const float n = tq_.factors(code).norm;
          const float corr = n * tq_.qjl_correction(pq, code);
          kept.push_back({base[c] + (l2 ? 2 * corr : corr), cands[c].id});
        }
        *reranked += kept.size();
        cands.swap(kept);
      } else {
        for (Cand& c : cands) {
          const uint8_t* code = row_codes + size_t(c.id) * cs;
          const float ip = tq_.inner_product(pq, code, params.estimator);
          if (l2) {
            const float n = tq_.factors(code).norm;
            c.s = 2 * ip - n * n;
          } else {
            c.s = ip;
          }
        }
        *reranked += cands.size();
      }
    }
    const size_t m = std::min(cands.size(), size_t(k));
    std::partial_sort(cands.begin(), cands.begin() + m, cands.end(),
                      [](const Cand& a, const Cand& b) { return a.s > b.s || (a.s == b.s && a.id < b.id); });
    const float qq = pq.norm * pq.norm;
    for (size_t r = 0; r < size_t(k); ++r) {
      if (r < m) {
        D[r] = l2 ? qq - cands[r].s : cands[r].s;
        I[r] = cands[r].id;
      } else {
        D[r] = pad;
        I[r] = -1;
      }
    }
  };

  auto prepare = [&](size_t q0, size_t n, std::vector<PreparedQuery>& pq, std::vector<QueryLut>& luts) {
    pq.resize(n);
    luts.resize(n);
#pragma omp parallel for if (n > 1 && !omp_in_parallel()) schedule(static)
    for (size_t i = 0; i < n; ++i) {
      pq[i] = tq_.prepare_query(queries + (q0 + i) * d);
      codes_.build_lut(pq[i].rotated.data(), &luts[i]);
    }
  };

  if (!split_codes) {
    // Threads take batches of B queries; prepare and scan inside the batch (keeps memory O(threads·B)).
    const size_t nbatches = (nq + B - 1) / B;
#pragma omp parallel for schedule(dynamic) reduction(+ : total_reranked, total_pruned)
    for (size_t bi = 0; bi < nbatches; ++bi) {
      const size_t q0 = bi * B;
      const int nb = static_cast<int>(std::min<size_t>(B, nq - q0));
      std::vector<PreparedQuery> pq;
      std::vector<QueryLut> luts;
      prepare(q0, nb, pq, luts);
      std::vector<TopK> heaps(nb, TopK(kc));
      // prepare() fills indices [0, nb): scan with local offset 0.
      scan(pq, luts, 0, nb, 0, nblocks, heaps);
      for (int i = 0; i < nb; ++i)
        finish(pq[i], heaps[i].items(), distances + (q0 + i) * k, labels + (q0 + i) * k, &total_reranked,
               &total_pruned);
    }
  } else {
    for (size_t q0 = 0; q0 < nq; q0 += B) {
      const int nb = static_cast<int>(std::min<size_t>(B, nq - q0));
      std::vector<PreparedQuery> pq;
      std::vector<QueryLut> luts;
      prepare(q0, nb, pq, luts);
      std::vector<std::vector<TopK>> per_thread(nt, std::vector<TopK>(nb, TopK(kc)));
      const size_t per = (nblocks + nt - 1) / nt;
#pragma omp parallel num_threads(nt)
      {
        const int t = omp_get_thread_num();
        const size_t b0 = std::min(nblocks, size_t(t) * per), b1 = std::min(nblocks, b0 + per);
        if (b0 < b1) scan(pq, luts, 0, nb, b0, b1, per_thread[t]);
      }
      for (int i = 0; i < nb; ++i) {
        TopK merged(kc);
        for (int t = 0; t < nt; ++t)
          for (const Cand& c : per_thread[t][i].items()) merged.push(c.s, c.id);
        finish(pq[i], merged.items(), distances + (q0 + i) * k, labels + (q0 + i) * k, &total_reranked,
               &total_pruned);
      }
    }
  }
  if (stats) {
    stats->scanned += nq * ntotal;
    stats->reranked += total_reranked;
    stats->pruned += total_pruned;
  }
}

}  // namespace tqsearch
