// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/flat_scanner.h"

#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "quant/bit_allocation.h"
#include "quant/error.h"
#include "quant/internal/lane_sum.h"

namespace tqsearch {
namespace {

struct Cand {
  float s;
  int64_t id;
};
// Best first: higher score, then smaller id.
inline bool better(const Cand& a, const Cand& b) { return a.s > b.s || (a.s == b.s && a.id < b.id); }

// Top-`cap` collector for scan candidates. The threshold is exact (the cap-th best score pushed so far: cheap float
// compares, no id tie-break), so only rows that can still be in the top-cap are pushed; their (score, row) pairs are
// appended to a buffer that is filtered by the threshold when it reaches 4·cap, and the final top-cap is selected by
// (score desc, row asc) once, in items(). Pushes must beat the threshold strictly: scans push rows in increasing
// order, so a later row that ties the cap-th best loses, which is the "smaller id wins ties" rule.
// The cap best floats are kept sorted (descending) up to kSortedCap: a push counts the entries it does not beat
// (a branch-free, vectorized loop) and shifts the rest by one, where a heap's sift-down takes a mispredicted
// branch per level (GloVe 100k TQ4, cap 40: the heap was 8% of the search). Larger caps keep the min-heap.
class TopK {
 public:
  static constexpr size_t kSortedCap = 128;
  explicit TopK(size_t cap) : cap_(cap) {
    best_.reserve(cap);
    buf_.reserve(4 * cap);
  }
  float threshold() const { return thr_; }
  /// @param s  must be > threshold()
  void push(float s, int64_t id) {
    buf_.push_back({s, id});
    if (cap_ <= kSortedCap)
      push_sorted(s);
    else
      push_heap(s);
    if (buf_.size() >= 4 * cap_) compact();
  }
  /// The best min(cap, pushed) candidates, unordered.
  std::vector<Cand>& items() {
    if (buf_.size() > cap_) {
      std::nth_element(buf_.begin(), buf_.begin() + (cap_ - 1), buf_.end(), better);
      buf_.resize(cap_);
    }
    return buf_;
  }

 private:
  void push_sorted(float s) {
    const size_t n = best_.size();
    size_t pos = 0;  // entries >= s stay in front of it
    for (size_t i = 0; i < n; ++i) pos += best_[i] >= s;
    if (n < cap_) {
      best_.insert(best_.begin() + pos, s);
      if (best_.size() == cap_) thr_ = best_.back();
      return;
    }
    // Full: s beats the last entry, which drops out.
    std::copy_backward(best_.begin() + pos, best_.end() - 1, best_.end());
    best_[pos] = s;
    thr_ = best_.back();
  }
  void push_heap(float s) {
    if (best_.size() < cap_) {
      best_.push_back(s);
      std::push_heap(best_.begin(), best_.end(), std::greater<float>());
      if (best_.size() == cap_) thr_ = best_.front();
      return;
    }
    // Replace the minimum and sift down (half the work of pop_heap + push_heap).
    const size_t n = best_.size();
    size_t i = 0;
    for (;;) {
      const size_t l = 2 * i + 1;
      if (l >= n) break;
      const size_t m = (l + 1 < n && best_[l + 1] < best_[l]) ? l + 1 : l;
      if (!(best_[m] < s)) break;
      best_[i] = best_[m];
      i = m;
    }
    best_[i] = s;
    thr_ = best_.front();
  }
  // Drop rows below the cap-th best; at least cap rows remain (those of best_, ties included).
  void compact() {
    size_t w = 0;
    for (const Cand& c : buf_)
      if (c.s >= thr_) buf_[w++] = c;
    buf_.resize(w);
    if (buf_.size() >= 4 * cap_) items();  // only with massive ties at the threshold
  }
  size_t cap_;
  float thr_ = -INFINITY;
  std::vector<float> best_;  // the cap best scores pushed: sorted descending (cap <= kSortedCap) or a min-heap
  std::vector<Cand> buf_;
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

// Index j of a row code whose coordinates all have W bits (W = 1, 2, 4, 8; LSB-first, BitAllocation's packing).
template <int W>
inline unsigned index_at(const uint8_t* code, int j) {
  constexpr int kPer = 8 / W;
  return (code[j / kPer] >> ((j % kPer) * W)) & ((1u << W) - 1);
}

// Starts loading every cache line of a row code: rows are not line-aligned (GloVe TQ4: 58 B), and the norm and ρ
// at the end of the row are read by the estimate, so the line holding the last byte is needed too.
inline void prefetch_row(const uint8_t* code, size_t cs) {
  const uintptr_t first = reinterpret_cast<uintptr_t>(code) & ~uintptr_t(63);
  const uintptr_t last = reinterpret_cast<uintptr_t>(code + cs - 1);
  for (uintptr_t a = first; a <= last; a += 64) __builtin_prefetch(reinterpret_cast<const void*>(a));
}

// ⟨Πq, ŷ⟩ of a code whose coordinates all have W bits, read in place (no unpacked copy), in dot_rotated's order.
template <int W>
inline float dot_lanes(const float* qr, const float* c, int d, const uint8_t* code) {
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = 0; j < d; ++j) l[j & 7] = l[j & 7] + qr[j] * c[index_at<W>(code, j)];
  return internal::reduce_lanes(l);
}

// ⟨Πq, ŷ⟩ of many codes, each the float TurboQuantizer::dot_rotated returns (same products, same order); the
// codes are prefetched first (they are random rows). Uniform 4-bit codes use the SIMD kernel of `level`
// (internal::dot_nibbles, the same float), other uniform widths read in place, mixed allocations go through
// dot_rotated. `dots[c]` for rows cands[c].id.
void dot_rotated_many(const TurboQuantizer& tq, const PreparedQuery& pq, const uint8_t* row_codes, const Cand* cands,
                      size_t n, SimdLevel level, float* dots) {
  const size_t cs = tq.code_size();
  const int d = tq.d();
  for (size_t c = 0; c < n; ++c) prefetch_row(row_codes + size_t(cands[c].id) * cs, cs);
  const BitAllocation& a = tq.allocation();
  const float* cl = tq.codebook(a.low_bits()).centroids().data();
  const float* qr = pq.rotated.data();
  const int uniform = a.num_high() == 0 ? a.low_bits() : 0;
  for (size_t c = 0; c < n; ++c) {
    const uint8_t* code = row_codes + size_t(cands[c].id) * cs;
    switch (uniform) {
      case 1: dots[c] = dot_lanes<1>(qr, cl, d, code); break;
      case 2: dots[c] = dot_lanes<2>(qr, cl, d, code); break;
      case 4: dots[c] = internal::dot_nibbles(level, code, d, qr, cl); break;
      case 8: dots[c] = dot_lanes<8>(qr, cl, d, code); break;
      default: dots[c] = tq.dot_rotated(pq, code); break;
    }
  }
}

// Exact top-`cap` by (score desc, id asc) for the prefix path's full-code scores: a heap with the worst on top.
class ExactTopK {
 public:
  explicit ExactTopK(size_t cap) : cap_(cap) { h_.reserve(cap); }
  float threshold() const { return h_.size() < cap_ ? -INFINITY : h_.front().s; }
  void push(float s, int64_t id) {
    const Cand c{s, id};
    if (h_.size() < cap_) {
      h_.push_back(c);
      std::push_heap(h_.begin(), h_.end(), better);
    } else if (better(c, h_.front())) {
      std::pop_heap(h_.begin(), h_.end(), better);
      h_.back() = c;
      std::push_heap(h_.begin(), h_.end(), better);
    }
  }
  std::vector<Cand>& items() { return h_; }

 private:
  size_t cap_;
  std::vector<Cand> h_;
};

// The estimator's value from ⟨Πq, ŷ⟩ of a code: exactly TurboQuantizer::inner_product (and FlatScanner's L2 form).
inline float estimate(const TurboQuantizer& tq, const PreparedQuery& pq, const uint8_t* code, float dot,
                      Estimator est, bool l2) {
  const VectorFactors f = tq.factors(code);
  float ip = 0;
  switch (est) {
    case Estimator::kMse: ip = f.norm * dot; break;
    case Estimator::kRenorm: ip = f.norm * dot / f.renorm; break;
    case Estimator::kQjl: ip = f.norm * (dot + tq.qjl_correction(pq, code)); break;
  }
  return l2 ? 2 * ip - f.norm * f.norm : ip;
}

// The largest float below t: a scan compares `value > below(t)`, i.e. value ≥ t. Bounded scans keep every row whose
// bound reaches the k-th best (ties included) and let ExactTopK order them by (score, row): when the bound admits
// every row that belongs in the top-k (z → ∞) the result does not depend on the order in which blocks are scanned;
// with a finite z the order only changes which rows near the bound are rescored.
inline float below(float t) { return std::nextafter(t, -INFINITY); }

// Order of a bounded scan over blocks [b0, b1): first a pilot of kPilotChunks evenly spaced chunks (about
// 1/kPilotShare of the blocks), then the rest in increasing order. The pilot's rescored rows set a k-th best close to
// the final one early; scanning from the first block instead, every row passes the bound until the threshold has
// warmed up, and more so when the data is sorted (GloVe's rows are ordered by word frequency): GloVe 100k TQ4 prefix
// scan, 1 thread: z = 0 377 → 213 rows rescored per query (1.30× → 1.52× the full layout's QPS), z = 2 (recall equal
// to the full scan's) 0.93× → 1.07×.
std::vector<std::pair<size_t, size_t>> bounded_scan_order(size_t b0, size_t b1) {
  constexpr size_t kPilotChunks = 4, kPilotShare = 64;  // GloVe: 4 × 1/256 rescored the fewest rows of those tried
  const size_t n = b1 - b0;
  const size_t cb = n / (kPilotChunks * kPilotShare);  // blocks per pilot chunk
  std::vector<std::pair<size_t, size_t>> order;
  if (cb == 0) {
    order.emplace_back(b0, b1);
    return order;
  }
  std::vector<size_t> starts(kPilotChunks);
  for (size_t j = 0; j < kPilotChunks; ++j) {
    starts[j] = b0 + (2 * j + 1) * n / (2 * kPilotChunks) - cb / 2;
    order.emplace_back(starts[j], starts[j] + cb);
  }
  size_t pos = b0;
  for (size_t st : starts) {
    if (pos < st) order.emplace_back(pos, st);
    pos = st + cb;
  }
  if (pos < b1) order.emplace_back(pos, b1);
  return order;
}

// Prefix-scan sink: rows whose bound beats the query's k-th best full score are queued and rescored with the full
// codes in batches of kPendingBatch (the estimator's own float: dot_rotated_many), raising the threshold.
constexpr size_t kPendingBatch = 4;
struct PrefixContext {
  const TurboQuantizer* tq;
  const uint8_t* row_codes;
  Estimator estimator;
  bool l2;
  SimdLevel level;
  const PreparedQuery* pq;     // per query
  ExactTopK* tops;             // per query
  std::vector<Cand>* pending;  // per query: (bound, row)
  float* threshold;            // per query
  std::vector<float> dots = {};
  size_t evaluated = 0;
};

void flush_pending(PrefixContext& c, int q) {
  std::vector<Cand>& p = c.pending[q];
  size_t w = 0;
  for (const Cand& x : p)
    if (x.s > c.threshold[q]) p[w++] = x;  // the threshold may have risen since the row was queued
  p.resize(w);
  c.evaluated += w;
  if (w > 0) {
    const size_t cs = c.tq->code_size();
    const PreparedQuery& pq = c.pq[q];
    c.dots.resize(w);
    dot_rotated_many(*c.tq, pq, c.row_codes, p.data(), w, c.level, c.dots.data());
    for (size_t i = 0; i < w; ++i) {
      const uint8_t* code = c.row_codes + size_t(p[i].id) * cs;
      c.tops[q].push(estimate(*c.tq, pq, code, c.dots[i], c.estimator, c.l2), p[i].id);
    }
  }
  p.clear();
  c.threshold[q] = below(c.tops[q].threshold());
}

void push_prefix(void* ctx, int q, size_t first_row, const float* bound, uint32_t mask) {
  PrefixContext& c = *static_cast<PrefixContext*>(ctx);
  std::vector<Cand>& p = c.pending[q];
  const size_t cs = c.tq->code_size();
  // Rows queued by earlier blocks are rescored first, and this block's rows wait for the next flush: their codes
  // (random rows, prefetched below) then have had at least one more block's scan to arrive.
  if (p.size() >= kPendingBatch) flush_pending(c, q);
  while (mask) {
    const int v = __builtin_ctz(mask);
    mask &= mask - 1;
    if (bound[v] <= c.threshold[q]) continue;  // the flush may have raised the threshold
    p.push_back({bound[v], int64_t(first_row + v)});
    prefetch_row(c.row_codes + (first_row + v) * cs, cs);
  }
}

}  // namespace

FlatLayout FlatLayout::recommended(const TurboQuantizer& tq) {
  FlatLayout l;
  l.scan_bits = tq.allocation().high_bits() > 4 ? 2 : 0;
  return l;
}

FlatScanner::FlatScanner(const TurboQuantizer& tq, Metric metric, const FlatLayout& layout)
    : tq_(tq), metric_(metric), layout_(layout), codes_(tq, layout.scan_bits) {
  TQ_CHECK(metric == Metric::kInnerProduct || metric == Metric::kL2,
           "FlatScanner: metric must be inner product (0) or L2 (1), got " << static_cast<uint32_t>(metric));
  TQ_CHECK(metric != Metric::kL2 || !tq.options().fold_renorm,
           "FlatScanner: L2 needs ‖x‖², which codes with fold_renorm (‖x‖/ρ only) do not keep; use inner product");
}

void FlatScanner::reset() {
  codes_.clear();
  mult_norm_.clear();
  mult_renorm_.clear();
  mult_prefix_.clear();
  slack_mse_.clear();
  slack_renorm_.clear();
  slack_qjl_.clear();
  neg_sqnorm_.clear();
}

size_t FlatScanner::memory_bytes() const {
  return codes_.memory_bytes() +
         sizeof(float) * (mult_norm_.capacity() + mult_renorm_.capacity() + mult_prefix_.capacity() +
                                         slack_mse_.capacity() + slack_renorm_.capacity() + slack_qjl_.capacity() +
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
  if (prefix) {
    mult_prefix_.resize(padded, 0.0f);
    slack_mse_.resize(padded, 0.0f);
    slack_renorm_.resize(padded, 0.0f);
    if (tq_.options().qjl) slack_qjl_.resize(padded, 0.0f);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* code = row_codes + i * tq_.code_size();
    const VectorFactors f = tq_.factors(code);
    mult_norm_[n0 + i] = k * f.norm;
    mult_renorm_[n0 + i] = k * f.norm / f.renorm;
    if (metric_ == Metric::kL2) neg_sqnorm_[n0 + i] = -f.norm * f.norm;
    if (prefix) {
      // ⟨Πq, y⟩ ≈ ⟨Πq, ŷ_s⟩/⟨y, ŷ_s⟩ and ⟨y, ŷ_s⟩ ≈ ⟨ŷ, ŷ_s⟩ (y − ŷ is small and nearly orthogonal to ŷ_s).
      // A non-positive ⟨ŷ, ŷ_s⟩ only happens for degenerate codes; fall back to the plain mse scale.
      const FastScanCodes::ReconstructionProducts r = codes_.reconstruction_products(code);
      const double c = r.dot > 1e-6 ? 1.0 / r.dot : 1.0;
      mult_prefix_[n0 + i] = static_cast<float>(k * f.norm * c);
      // e_x = ‖x‖·(a·ŷ − c·ŷ_s) with a = 1 (mse, QJL's mse part) or 1/ρ (renorm): ‖e_x‖² expanded.
      auto gap = [&](double a) {
        return std::sqrt(std::max(0.0, a * a * r.full_sq - 2 * a * c * r.dot + c * c * r.scan_sq)) * f.norm;
      };
      const double e_mse = gap(1.0), e_renorm = gap(1.0 / f.renorm);
      slack_mse_[n0 + i] = static_cast<float>(k * e_mse);
      slack_renorm_[n0 + i] = static_cast<float>(k * e_renorm);
      // QJL adds its sketch term, spread ‖x‖γ·√(π/2)·‖q‖/√d (the QJL lemma's standard deviation).
      if (tq_.options().qjl)
        slack_qjl_[n0 + i] = static_cast<float>(
            k * std::sqrt(e_mse * e_mse + 1.5707963267948966 * double(f.norm * f.gamma) * (f.norm * f.gamma)));
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
                                               << " needs "
                                               << estimator_requirement(params.estimator));
  TQ_CHECK(params.rerank_factor >= 0, "FlatScanner::search: rerank_factor must be >= 0, got " << params.rerank_factor);
  TQ_CHECK(params.query_batch >= 1 && params.query_batch <= 64,
           "FlatScanner::search: query_batch must be in 1..64, got " << params.query_batch);
  TQ_CHECK(simd_level_supported(params.level),
           "FlatScanner::search: SIMD level " << simd_level_name(params.level) << " is not supported by this CPU");
  TQ_CHECK(params.lut_max == 63 || params.lut_max == 127 || params.lut_max == 255,
           "FlatSearchParams: lut_max must be 63, 127 or 255, got " << params.lut_max);
  TQ_CHECK(std::isfinite(params.lut_z) && params.lut_z >= 0,
           "FlatScanner::search: lut_z must be finite and >= 0, got " << params.lut_z);
  TQ_CHECK(std::isfinite(params.prefix_z) && params.prefix_z >= 0,
           "FlatScanner::search: prefix_z must be finite and >= 0, got " << params.prefix_z);
  TQ_CHECK(params.split_min_blocks >= 1,
           "FlatScanner::search: split_min_blocks must be >= 1, got " << params.split_min_blocks);
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
  const bool prefix = codes_.is_prefix();
  // Bounded scans rescore with the full codes, during the scan, every row whose scan value + slack can beat the
  // k-th best full-code estimate (exact top-k over those rows, nothing left to rerank after): prefix layouts (slack
  // = the per-row gap to the full code) and full layouts scanned with coarse LUTs (slack = the LUT rounding noise;
  // the QJL estimator, whose sketch term the scan does not see, keeps the rerank list).
  const bool coarse_lut = !prefix && params.lut_max < 255 && params.estimator != Estimator::kQjl &&
                          !codes_.int8_path();
  const bool bounded = prefix || coarse_lut;
  const bool rerank = params.rerank_factor > 0 && !bounded;
  size_t kc = size_t(k);
  if (rerank) kc = std::max({size_t(k) * params.rerank_factor, size_t(params.rerank_min), size_t(k)});
  kc = std::min(kc, ntotal);
  const float* mult = prefix ? mult_prefix_.data()
                             : params.estimator == Estimator::kRenorm ? mult_renorm_.data() : mult_norm_.data();
  const float* slack = coarse_lut                                ? mult
                       : !prefix                                 ? nullptr
                       : params.estimator == Estimator::kRenorm ? slack_renorm_.data()
                       : params.estimator == Estimator::kQjl    ? slack_qjl_.data()
                                                                : slack_mse_.data();
  const float* add = l2 ? neg_sqnorm_.data() : nullptr;
  const int lut_max = params.lut_max;
  // Slack scale per query: prefix z·‖q‖/√d (times ‖e_x‖ per row); coarse LUTs z·scale·√(G/12) (times the row's
  // multiplier), the spread of a sum of G uniform rounding errors of ±scale/2.
  auto slack_scale = [&](const PreparedQuery& q, const QueryLut& L) {
    if (prefix) return params.prefix_z * q.norm / std::sqrt(float(d));
    return params.lut_z * L.scale * std::sqrt(float(codes_.num_groups()) / 12.0f);
  };
  const size_t nblocks = codes_.num_blocks();
  const size_t bb = codes_.block_bytes();
  const int B = params.query_batch;
  const int nt = omp_get_max_threads();
  // Few queries: split the codes among threads (each keeps its own heaps, merged after). Many: split queries.
  // Inside a caller's parallel region a nested team has one thread: scan the codes in this thread then.
  const bool split_codes = nq < size_t(nt) * B && nblocks >= size_t(nt) * params.split_min_blocks && nt > 1 &&
                           !omp_in_parallel();

  size_t total_reranked = 0, total_pruned = 0;

  // The fields of a fused scan over blocks [b0, b1) for nb queries that both scans share; the caller adds the sink
  // (and the slack for bounded scans).
  auto fused_scan = [&](size_t b0, size_t b1, int nb, const uint8_t* const* lp, const std::vector<float>& scale,
                        const std::vector<float>& bias, std::vector<float>& thr) {
    internal::FusedScan fs;
    fs.blocks = codes_.data() + b0 * bb;
    fs.nblocks = b1 - b0;
    fs.g2 = codes_.num_groups_padded();
    fs.luts = lp;
    fs.nq = nb;
    fs.scale = scale.data();
    fs.bias = bias.data();
    fs.mult = mult + b0 * 32;
    fs.add = add ? add + b0 * 32 : nullptr;
    fs.first_row = b0 * 32;
    fs.nvalid = std::min((b1 - b0) * 32, ntotal - b0 * 32);
    fs.threshold = thr.data();
    fs.lut_max = lut_max;
    return fs;
  };

  // Bounded scans: blocks [b0, b1) for queries [q0, q0+nb); rows passing the bound are rescored into tops.
  auto scan_bounded = [&](const std::vector<PreparedQuery>& pq, const std::vector<QueryLut>& luts, size_t q0, int nb,
                         size_t b0, size_t b1, std::vector<ExactTopK>& tops, size_t* evaluated) {
    std::vector<const uint8_t*> lp(nb);
    std::vector<float> scale(nb), bias(nb), thr(nb), sscale(nb);
    std::vector<std::vector<Cand>> pending(nb);
    for (int i = 0; i < nb; ++i) {
      const QueryLut& L = luts[q0 + i];
      lp[i] = L.lut.data();
      scale[i] = L.scale;
      bias[i] = L.bias;
      // A prefix scan with a coarse LUT also bounds the LUT rounding: lut_z·σ added to every scan value (scaled by
      // the row's multiplier like the value itself), on top of the per-row prefix slack.
      if (prefix && lut_max < 255)
        bias[i] += params.lut_z * L.scale * std::sqrt(float(codes_.num_groups()) / 12.0f);
      thr[i] = below(tops[i].threshold());
      sscale[i] = slack_scale(pq[q0 + i], L);
      pending[i].reserve(kPendingBatch + 32);
    }
    PrefixContext ctx{&tq_, row_codes, params.estimator, l2, params.level, pq.data() + q0, tops.data(),
                      pending.data(), thr.data()};
    for (const auto& [r0, r1] : bounded_scan_order(b0, b1)) {
      internal::FusedScan fs = fused_scan(r0, r1, nb, lp.data(), scale, bias, thr);
      fs.slack = slack + r0 * 32;
      fs.slack_scale = sscale.data();
      fs.sink = push_prefix;
      fs.ctx = &ctx;
      internal::scan_fused(params.level, fs);
    }
    for (int i = 0; i < nb; ++i) flush_pending(ctx, i);
    *evaluated += ctx.evaluated;
  };

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
      internal::FusedScan fs =
          fused_scan(b0, b1, nb, reinterpret_cast<const uint8_t* const*>(lp.data()), scale, bias, thr);
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
        dot_rotated_many(tq_, pq, row_codes, cands.data(), cands.size(), params.level, dots.data());
        for (size_t c = 0; c < cands.size(); ++c)
          cands[c].s = estimate(tq_, pq, row_codes + size_t(cands[c].id) * cs, dots[c], params.estimator, l2);
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
      codes_.build_lut(pq[i].rotated.data(), &luts[i], lut_max);
    }
  };

  const size_t kk = std::min(size_t(k), ntotal);
  if (!split_codes) {
    // Threads take batches of B queries; prepare and scan inside the batch (keeps memory O(threads·B)).
    const size_t nbatches = (nq + B - 1) / B;
#pragma omp parallel for schedule(dynamic) reduction(+ : total_reranked, total_pruned) if (nbatches > 1)
    for (size_t bi = 0; bi < nbatches; ++bi) {
      const size_t q0 = bi * B;
      const int nb = static_cast<int>(std::min<size_t>(B, nq - q0));
      std::vector<PreparedQuery> pq;
      std::vector<QueryLut> luts;
      prepare(q0, nb, pq, luts);
      // prepare() fills indices [0, nb): scan with local offset 0.
      if (bounded) {
        std::vector<ExactTopK> tops(nb, ExactTopK(kk));
        size_t evaluated = 0;
        scan_bounded(pq, luts, 0, nb, 0, nblocks, tops, &evaluated);
        total_reranked += evaluated;
        for (int i = 0; i < nb; ++i)
          finish(pq[i], tops[i].items(), distances + (q0 + i) * k, labels + (q0 + i) * k, &total_reranked,
                 &total_pruned);
        continue;
      }
      std::vector<TopK> heaps(nb, TopK(kc));
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
      const size_t per = (nblocks + nt - 1) / nt;
      // Each thread's best candidates per query, gathered then merged by the full order (score, then id): thread
      // t's rows are not all after thread t−1's, so no threshold rule applies across threads.
      std::vector<std::vector<std::vector<Cand>>> found(nt, std::vector<std::vector<Cand>>(nb));
      size_t evaluated = 0;
      // One chunk per iteration, not per thread id: the team may have fewer threads than nt (OMP_THREAD_LIMIT,
      // OMP_DYNAMIC), and every chunk must still be scanned.
#pragma omp parallel for num_threads(nt) schedule(static, 1) reduction(+ : evaluated)
      for (int t = 0; t < nt; ++t) {
        const size_t b0 = std::min(nblocks, size_t(t) * per), b1 = std::min(nblocks, b0 + per);
        if (b0 < b1) {
          if (bounded) {
            std::vector<ExactTopK> tops(nb, ExactTopK(kk));
            scan_bounded(pq, luts, 0, nb, b0, b1, tops, &evaluated);
            for (int i = 0; i < nb; ++i) found[t][i] = tops[i].items();
          } else {
            std::vector<TopK> heaps(nb, TopK(kc));
            scan(pq, luts, 0, nb, b0, b1, heaps);
            for (int i = 0; i < nb; ++i) found[t][i] = heaps[i].items();
          }
        }
      }
      total_reranked += evaluated;
      const size_t keep = bounded ? kk : kc;
      for (int i = 0; i < nb; ++i) {
        std::vector<Cand> merged;
        for (int t = 0; t < nt; ++t) merged.insert(merged.end(), found[t][i].begin(), found[t][i].end());
        if (merged.size() > keep) {
          std::nth_element(merged.begin(), merged.begin() + (keep - 1), merged.end(), better);
          merged.resize(keep);
        }
        finish(pq[i], merged, distances + (q0 + i) * k, labels + (q0 + i) * k, &total_reranked, &total_pruned);
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
