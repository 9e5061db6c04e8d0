// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/flat_scanner.h"

#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>

#include "quant/bit_allocation.h"
#include "quant/error.h"

namespace tqsearch {
namespace {

struct Cand {
  float s;
  int64_t id;
};
// Best first: higher score, then smaller id.
inline bool better(const Cand& a, const Cand& b) { return a.s > b.s || (a.s == b.s && a.id < b.id); }

// Top-`cap` collector for scan candidates (amortized O(1) per push, unlike a heap's O(log cap)): candidates go
// into a buffer of 2·cap; when it is full, the cap-th best score T is found among the buffered scores (a float
// selection) and the buffer keeps the scores above T plus the first (smallest-row) ties of T up to cap; T becomes
// the threshold. Pushes must beat it strictly, so a later candidate that ties it is dropped — scans push rows in
// increasing order, which makes "smaller id wins ties" hold for the kept set.
class TopK {
 public:
  explicit TopK(size_t cap) : cap_(cap) {
    buf_.reserve(2 * cap);
    tmp_.reserve(2 * cap);
  }
  float threshold() const { return thr_; }
  void push(float s, int64_t id) {
    buf_.push_back({s, id});
    if (buf_.size() == 2 * cap_) shrink();
  }
  /// The best min(cap, pushed) candidates, unordered.
  std::vector<Cand>& items() {
    if (buf_.size() > cap_) shrink();
    return buf_;
  }

 private:
  void shrink() {
    tmp_.resize(buf_.size());
    for (size_t i = 0; i < buf_.size(); ++i) tmp_[i] = buf_[i].s;
    std::nth_element(tmp_.begin(), tmp_.begin() + (cap_ - 1), tmp_.end(), std::greater<float>());
    const float t = tmp_[cap_ - 1];
    size_t above = 0;
    for (const Cand& c : buf_) above += c.s > t;
    size_t ties_left = cap_ - above;  // >= 1: t itself is buffered
    // Ties of t keep the smallest rows (buffer order is row order within one scan, not across merges).
    if (ties_left > 0) {
      std::vector<int64_t> tie_ids;
      for (const Cand& c : buf_)
        if (c.s == t) tie_ids.push_back(c.id);
      if (tie_ids.size() > ties_left) {
        std::nth_element(tie_ids.begin(), tie_ids.begin() + (ties_left - 1), tie_ids.end());
        const int64_t max_id = tie_ids[ties_left - 1];
        size_t w = 0;
        for (const Cand& c : buf_)
          if (c.s > t || (c.s == t && c.id <= max_id && ties_left > 0)) {
            if (c.s == t) --ties_left;
            buf_[w++] = c;
          }
        buf_.resize(w);
        thr_ = t;
        return;
      }
    }
    size_t w = 0;
    for (const Cand& c : buf_)
      if (c.s >= t) buf_[w++] = c;
    buf_.resize(w);
    thr_ = t;
  }
  size_t cap_;
  float thr_ = -INFINITY;
  std::vector<Cand> buf_;
  std::vector<float> tmp_;
};

constexpr size_t kChunkBlocks = 64;  // 8-bit path: 2048 vectors per kernel call, accumulators stay in L1/L2

// Fused-scan sink: push the block's candidates into the query's heap and publish its new threshold.
struct SinkContext {
  TopK* heaps;
  float* threshold;
};
void push_candidates(void* ctx, int q, size_t first_row, const float* scores, uint32_t mask) {
  SinkContext& c = *static_cast<SinkContext*>(ctx);
  TopK& h = c.heaps[q];
  while (mask) {
    const int v = __builtin_ctz(mask);
    mask &= mask - 1;
    if (scores[v] > h.threshold()) h.push(scores[v], int64_t(first_row + v));
  }
  c.threshold[q] = h.threshold();
}

// ⟨Πq, ŷ⟩ of many codes, each summed exactly as TurboQuantizer::dot_rotated does (same products, same order, so
// the same float), four codes at a time so that four independent add chains overlap; the codes are prefetched
// first (they are random rows). `dots[c]` for rows ids[c].
void dot_rotated_many(const TurboQuantizer& tq, const PreparedQuery& pq, const uint8_t* row_codes, const Cand* cands,
                      size_t n, float* dots) {
  const size_t cs = tq.code_size();
  const int d = tq.d();
  for (size_t c = 0; c < n; ++c) {
    const uint8_t* code = row_codes + size_t(cands[c].id) * cs;
    for (size_t off = 0; off < cs; off += 64) __builtin_prefetch(code + off);
  }
  const BitAllocation& a = tq.allocation();
  const int nh = a.num_high();
  const float* ch = tq.codebook(a.high_bits()).centroids().data();
  const float* cl = tq.codebook(a.low_bits()).centroids().data();
  const float* qr = pq.rotated.data();
  std::vector<uint8_t> idx(size_t(4) * d);
  size_t c = 0;
  for (; c + 4 <= n; c += 4) {
    for (int t = 0; t < 4; ++t) tq.unpack_indices(row_codes + size_t(cands[c + t].id) * cs, idx.data() + size_t(t) * d);
    const uint8_t *i0 = idx.data(), *i1 = i0 + d, *i2 = i1 + d, *i3 = i2 + d;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int j = 0; j < nh; ++j) {
      a0 += qr[j] * ch[i0[j]];
      a1 += qr[j] * ch[i1[j]];
      a2 += qr[j] * ch[i2[j]];
      a3 += qr[j] * ch[i3[j]];
    }
    for (int j = nh; j < d; ++j) {
      a0 += qr[j] * cl[i0[j]];
      a1 += qr[j] * cl[i1[j]];
      a2 += qr[j] * cl[i2[j]];
      a3 += qr[j] * cl[i3[j]];
    }
    dots[c] = a0;
    dots[c + 1] = a1;
    dots[c + 2] = a2;
    dots[c + 3] = a3;
  }
  for (; c < n; ++c) dots[c] = tq.dot_rotated(pq, row_codes + size_t(cands[c].id) * cs);
}

}  // namespace

FlatLayout FlatLayout::recommended(const TurboQuantizer& tq) {
  FlatLayout l;
  l.scan_bits = tq.allocation().high_bits() > 2 ? 2 : 0;
  return l;
}

FlatScanner::FlatScanner(const TurboQuantizer& tq, Metric metric, const FlatLayout& layout)
    : tq_(tq), metric_(metric), layout_(layout), codes_(tq, layout.scan_bits) {
  TQ_CHECK(metric == Metric::kInnerProduct || metric == Metric::kL2,
           "FlatScanner: metric must be inner product (0) or L2 (1), got " << static_cast<uint32_t>(metric));
}

void FlatScanner::reset() {
  codes_.clear();
  mult_norm_.clear();
  mult_renorm_.clear();
  mult_prefix_.clear();
  neg_sqnorm_.clear();
}

size_t FlatScanner::memory_bytes() const {
  return codes_.memory_bytes() +
         sizeof(float) * (mult_norm_.capacity() + mult_renorm_.capacity() + mult_prefix_.capacity() +
                                         neg_sqnorm_.capacity());
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
  const bool prefix = codes_.is_prefix();
  if (prefix) mult_prefix_.resize(padded, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* code = row_codes + i * tq_.code_size();
    const VectorFactors f = tq_.factors(code);
    mult_norm_[n0 + i] = k * f.norm;
    mult_renorm_[n0 + i] = k * f.norm / f.renorm;
    if (metric_ == Metric::kL2) neg_sqnorm_[n0 + i] = -f.norm * f.norm;
    if (prefix) {
      // ⟨Πq, y⟩ ≈ ⟨Πq, ŷ_s⟩/⟨y, ŷ_s⟩ and ⟨y, ŷ_s⟩ ≈ ⟨ŷ, ŷ_s⟩ (y − ŷ is small and nearly orthogonal to ŷ_s).
      // A non-positive ⟨ŷ, ŷ_s⟩ only happens for degenerate codes; fall back to the plain mse scale.
      double dot = 0, sq = 0;
      codes_.scan_reconstruction_dots(code, &dot, &sq);
      mult_prefix_[n0 + i] = dot > 1e-6 ? static_cast<float>(k * f.norm / dot) : k * f.norm;
    }
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
  TQ_CHECK(params.prefix_shortlist >= 1,
           "FlatScanner::search: prefix_shortlist must be >= 1, got " << params.prefix_shortlist);
  const bool prefix = codes_.is_prefix();
  const bool rerank = params.rerank_factor > 0 || prefix;
  size_t kc = size_t(k);
  if (rerank) kc = std::max({size_t(k) * params.rerank_factor, size_t(params.rerank_min), size_t(k)});
  if (prefix) kc = std::max(kc, size_t(k) * params.prefix_shortlist);
  kc = std::min(kc, ntotal);
  const float* mult = prefix ? mult_prefix_.data()
                             : params.estimator == Estimator::kRenorm ? mult_renorm_.data() : mult_norm_.data();
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
    (void)pq;
    std::vector<const void*> lp(nb);
    for (int i = 0; i < nb; ++i) {
      const QueryLut& L = luts[q0 + i];
      lp[i] = codes_.int8_path() ? static_cast<const void*>(L.q8.data()) : static_cast<const void*>(L.lut.data());
    }
    if (!codes_.int8_path()) {
      std::vector<float> scale(nb), bias(nb), thr(nb);
      for (int i = 0; i < nb; ++i) {
        scale[i] = luts[q0 + i].scale;
        bias[i] = luts[q0 + i].bias;
        thr[i] = heaps[i].threshold();
      }
      SinkContext ctx{heaps.data(), thr.data()};
      internal::FusedScan fs;
      fs.blocks = codes_.data() + b0 * bb;
      fs.nblocks = b1 - b0;
      fs.g2 = codes_.num_groups_padded();
      fs.luts = reinterpret_cast<const uint8_t* const*>(lp.data());
      fs.nq = nb;
      fs.scale = scale.data();
      fs.bias = bias.data();
      fs.mult = mult + b0 * 32;
      fs.add = add ? add + b0 * 32 : nullptr;
      fs.first_row = b0 * 32;
      fs.nvalid = std::min((b1 - b0) * 32, ntotal - b0 * 32);
      fs.threshold = thr.data();
      fs.sink = push_candidates;
      fs.ctx = &ctx;
      internal::scan_fused(params.level, fs);
      return;
    }
    // 8-bit path: int32 dot products per chunk, then scores and a threshold pass.
    std::vector<int32_t> acc(size_t(nb) * kChunkBlocks * 32);
    std::vector<float> scores(kChunkBlocks * 32);
    std::vector<uint32_t> pos(kChunkBlocks * 32);
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
        // Same value as tq_.inner_product(pq, code, estimator) for each candidate, computed in a batch.
        std::vector<float> dots(cands.size());
        dot_rotated_many(tq_, pq, row_codes, cands.data(), cands.size(), dots.data());
        for (size_t c = 0; c < cands.size(); ++c) {
          const uint8_t* code = row_codes + size_t(cands[c].id) * cs;
          const VectorFactors f = tq_.factors(code);
          float ip = 0;
          switch (params.estimator) {
            case Estimator::kMse: ip = f.norm * dots[c]; break;
            case Estimator::kRenorm: ip = f.norm * dots[c] / f.renorm; break;
            case Estimator::kQjl: ip = f.norm * (dots[c] + tq_.qjl_correction(pq, code)); break;
          }
          cands[c].s = l2 ? 2 * ip - f.norm * f.norm : ip;
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
        // Merge without the threshold rule (thread t's rows are not all after thread t−1's): select by the full
        // order (score, then id).
        std::vector<Cand> merged;
        for (int t = 0; t < nt; ++t) {
          const std::vector<Cand>& c = per_thread[t][i].items();
          merged.insert(merged.end(), c.begin(), c.end());
        }
        if (merged.size() > kc) {
          std::nth_element(merged.begin(), merged.begin() + (kc - 1), merged.end(), better);
          merged.resize(kc);
        }
        finish(pq[i], merged, distances + (q0 + i) * k, labels + (q0 + i) * k, &total_reranked,
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
