// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "index/index_turbo_quant.h"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>

#include "index/internal/normalize_row.h"
#include "index/internal/turbo_quant_distance_computer.h"
#include "quant/error.h"

namespace tqsearch {

namespace {

// Rows per chunk in add() and train(): bounds the normalized/centered copy to ~4 MiB (small enough to stay in
// cache and to reuse one buffer; a 65536-row copy at d = 1536 was 400 MB of first-touch page faults).
constexpr size_t kChunkFloats = size_t(1) << 20;
inline faiss::Index::idx_t chunk_rows(int d) {
  return faiss::Index::idx_t(std::max<size_t>(256, kChunkFloats / size_t(d)));
}

// IndexTurboQuant::ranks_as_l2: cosine with centering ranks as L2 on centered unit vectors unless rows are folded.
bool l2_ranking(IndexMetric m, const IndexTurboQuantOptions& o) {
  return m == IndexMetric::kL2 || (m == IndexMetric::kCosine && o.center && !o.quantizer.fold_renorm);
}

bool is_zero_row(const float* row, size_t d) {
  for (size_t j = 0; j < d; ++j) {
    if (row[j] != 0.0f) return false;
  }
  return true;
}

IndexMetric from_faiss_metric(faiss::MetricType m) {
  if (m == faiss::METRIC_INNER_PRODUCT) return IndexMetric::kInnerProduct;
  if (m == faiss::METRIC_L2) return IndexMetric::kL2;
  TQ_THROW("IndexTurboQuant: unsupported faiss metric type " << int(m)
                                                             << "; allowed: METRIC_INNER_PRODUCT (0), METRIC_L2 (1)"
                                                                " (cosine: use IndexMetric::kCosine)");
}

bool same_quantizer_options(const TurboQuantizerOptions& a, const TurboQuantizerOptions& b) {
  return a.bits == b.bits && a.rotation.kind == b.rotation.kind && a.rotation.seed == b.rotation.seed &&
         a.rotation.rounds == b.rotation.rounds && a.fp16_norm == b.fp16_norm && a.store_renorm == b.store_renorm &&
         a.fold_renorm == b.fold_renorm &&
         a.qjl == b.qjl && (!a.qjl || (a.qjl_kind == b.qjl_kind && a.qjl_seed == b.qjl_seed));
}

/// Runs body(i) for i in [0, n) over OpenMP threads; the first exception is rethrown after the loop.
template <class Body>
void parallel_for_rethrow(int64_t n, Body&& body) {
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(tqsearch_index_parallel_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

const char* index_metric_name(IndexMetric metric) {
  switch (metric) {
    case IndexMetric::kInnerProduct: return "ip";
    case IndexMetric::kL2: return "l2";
    case IndexMetric::kCosine: return "cosine";
  }
  return "unknown";
}

IndexTurboQuant::IndexTurboQuant(int d, IndexMetric metric, const IndexTurboQuantOptions& options)
    : faiss::IndexFlatCodes(0, d, metric == IndexMetric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT),
      metric_(metric),
      options_(options) {
  init();
}

IndexTurboQuant::IndexTurboQuant(int d, faiss::MetricType metric, const IndexTurboQuantOptions& options)
    : IndexTurboQuant(d, from_faiss_metric(metric), options) {}

IndexTurboQuant::~IndexTurboQuant() = default;

void IndexTurboQuant::init() {
  TQ_CHECK(d >= 1 && d <= 65536, "IndexTurboQuant: dimension d must be in [1, 65536], got " << d);
  TQ_CHECK(metric_ == IndexMetric::kInnerProduct || metric_ == IndexMetric::kL2 || metric_ == IndexMetric::kCosine,
           "IndexTurboQuant: unknown metric " << uint32_t(metric_) << "; allowed: 0 (ip), 1 (l2), 2 (cosine)");
  TQ_CHECK(metric_ != IndexMetric::kL2 || !options_.quantizer.fold_renorm,
           "IndexTurboQuant: fold_renorm (factory token \"Fold\") keeps only ‖x‖/ρ, but L2 distances need ‖x‖²; use "
           "inner product or cosine, or drop fold_renorm (Norm16 alone saves 2 bytes)");
  tq_ = std::make_unique<TurboQuantizer>(int(d), options_.quantizer);
  code_size = tq_->code_size();
  TQ_CHECK(options_.scan_bits >= -1 && options_.scan_bits <= 4,
           "IndexTurboQuant: scan_bits must be -1 (recommended), 0 (full codes) or 1..4 (prefix scan), got "
               << options_.scan_bits);
  scanner_ = std::make_unique<FlatScanner>(
      *tq_, l2_ranking(metric_, options_) ? Metric::kL2 : Metric::kInnerProduct,
      options_.scan_bits < 0 ? FlatLayout::recommended(*tq_) : FlatLayout{options_.scan_bits});
  validate_search_params(options_.search);
  mean_.clear();
  mean_rotated_.clear();
  is_trained = !options_.center;
}

void IndexTurboQuant::validate_search_params(const FlatSearchParams& p) const {
  TQ_CHECK(tq_->supports(p.estimator),
           "IndexTurboQuant: estimator '" << estimator_name(p.estimator) << "' is not available with these codes (it needs "
                                          << estimator_requirement(p.estimator) << "); stored: store_renorm="
                                          << options_.quantizer.store_renorm << " fold_renorm="
                                          << options_.quantizer.fold_renorm << " qjl=" << options_.quantizer.qjl);
  TQ_CHECK(p.rerank_factor >= 0, "IndexTurboQuant: rerank_factor must be >= 0, got " << p.rerank_factor);
  TQ_CHECK(p.rerank_min >= 0, "IndexTurboQuant: rerank_min must be >= 0, got " << p.rerank_min);
  TQ_CHECK(std::isfinite(p.qjl_prune_z) && p.qjl_prune_z >= 0,
           "IndexTurboQuant: qjl_prune_z must be finite and >= 0, got " << p.qjl_prune_z);
  TQ_CHECK(std::isfinite(p.prefix_z) && p.prefix_z >= 0,
           "IndexTurboQuant: prefix_z must be finite and >= 0, got " << p.prefix_z);
  TQ_CHECK(p.query_batch >= 1 && p.query_batch <= 64,
           "IndexTurboQuant: query_batch must be in 1..64, got " << p.query_batch);
  TQ_CHECK(p.lut_max == 63 || p.lut_max == 127 || p.lut_max == 255,
           "IndexTurboQuant: lut_max must be 63, 127 or 255, got " << p.lut_max);
  TQ_CHECK(std::isfinite(p.lut_z) && p.lut_z >= 0, "IndexTurboQuant: lut_z must be finite and >= 0, got " << p.lut_z);
  TQ_CHECK(p.split_min_blocks >= 1, "IndexTurboQuant: split_min_blocks must be >= 1, got " << p.split_min_blocks);
  TQ_CHECK(simd_level_supported(p.level),
           "IndexTurboQuant: SIMD level '" << simd_level_name(p.level) << "' is not supported on this CPU");
}

void IndexTurboQuant::set_search_params(const FlatSearchParams& params) {
  validate_search_params(params);
  options_.search = params;
}

void IndexTurboQuant::train(idx_t n, const float* x) {
  if (!options_.center) return;  // data-oblivious: nothing to learn
  TQ_CHECK(n >= 1, "IndexTurboQuant::train: centering needs at least one training vector, got n = " << n);
  TQ_CHECK(x != nullptr, "IndexTurboQuant::train: x is null for n = " << n);
  TQ_CHECK(ntotal == 0, "IndexTurboQuant::train: the index holds "
                            << ntotal << " vectors encoded relative to the current mean; call reset() before "
                                         "training a new mean");
  const size_t dd = size_t(d);
  std::vector<double> sum(dd, 0.0);
  // One streaming pass, double sums in a fixed order: the mean does not depend on the thread count.
  if (metric_ == IndexMetric::kCosine) {
    std::vector<float> buf;
    const idx_t rows = chunk_rows(d);  // bounds the normalized copy
    for (idx_t i0 = 0; i0 < n; i0 += rows) {
      const idx_t ni = std::min<idx_t>(n - i0, rows);
      const float* xi = prepare_input(ni, x + size_t(i0) * dd, buf, "train", false, i0);
      for (idx_t i = 0; i < ni; ++i) {
        const float* row = xi + size_t(i) * dd;
        for (size_t j = 0; j < dd; ++j) sum[j] += double(row[j]);
      }
    }
  } else {
    // The sums double as the finite check: a double sum of finite floats cannot overflow, so a NaN/Inf sum means a
    // NaN/Inf input in that column (then the checking pass finds and reports the first one).
    for (idx_t i = 0; i < n; ++i) {
      const float* row = x + size_t(i) * dd;
      for (size_t j = 0; j < dd; ++j) sum[j] += double(row[j]);
    }
    bool finite = true;
    for (size_t j = 0; j < dd; ++j) finite &= std::isfinite(sum[j]);
    if (!finite) {
      std::vector<float> buf;
      prepare_input(n, x, buf, "train", false);  // throws
      TQ_THROW("IndexTurboQuant::train: a column sum is not finite although every value is");  // not reached
    }
  }
  std::vector<float> mu(dd);
  for (size_t j = 0; j < dd; ++j) mu[j] = float(sum[j] / double(n));
  set_mean(mu.data());
}

void IndexTurboQuant::set_mean(const float* mean) {
  TQ_CHECK(options_.center, "IndexTurboQuant::set_mean: centering is off for this index (options.center = false)");
  TQ_CHECK(mean != nullptr, "IndexTurboQuant::set_mean: mean is null");
  TQ_CHECK(ntotal == 0, "IndexTurboQuant::set_mean: the index holds " << ntotal
                                                                      << " vectors encoded relative to the current "
                                                                         "mean; call reset() first");
  for (int j = 0; j < d; ++j) {
    TQ_CHECK(std::isfinite(mean[j]), "IndexTurboQuant::set_mean: mean has a non-finite value "
                                         << mean[j] << " at coordinate " << j << "; all values must be finite");
  }
  std::vector<float> rotated(mean, mean + d);
  tq_->rotation().forward(1, rotated.data(), rotated.data());
  mean_.assign(mean, mean + d);
  mean_rotated_ = std::move(rotated);
  is_trained = true;
}

bool IndexTurboQuant::ranks_as_l2() const { return l2_ranking(metric_, options_); }

float IndexTurboQuant::mean_dot(const float* q) const {
  if (mean_.empty()) return 0.0f;
  double s = 0;
  for (int j = 0; j < d; ++j) s += double(q[j]) * mean_[size_t(j)];
  return float(s);
}

void IndexTurboQuant::encode_rows(idx_t n, const float* x, uint8_t* out, std::vector<float>& buf, const char* what,
                                  idx_t row0) const {
  if (metric_ == IndexMetric::kCosine) {
    tq_->encode(size_t(n), prepare_input(n, x, buf, what, true, row0), out, size_t(row0));
    return;
  }
  // Rows go to the quantizer as they are (centered inside it: no copy of x − μ): its encode checks every row (NaN/Inf,
  // overflow) from the norm it computes anyway, so the separate finite pass runs only to word the error in this
  // index's terms.
  try {
    if (!mean_.empty()) {
      tq_->encode_centered(size_t(n), x, mean_.data(), out, size_t(row0));
    } else {
      tq_->encode(size_t(n), x, out, size_t(row0));
    }
  } catch (const Error&) {
    prepare_input(n, x, buf, what, false, row0);  // throws "IndexTurboQuant::<what>: vector i has a non-finite ..."
    throw;                                        // overflow: the quantizer's message
  }
}

void IndexTurboQuant::check_trained(const char* what) const {
  TQ_CHECK(is_trained && (!options_.center || mean_.size() == size_t(d)),
           "IndexTurboQuant::" << what
                               << ": the index centers vectors (options.center, factory token \",Center\") and "
                                  "is not trained; call train() with a sample of the data (it computes the mean) "
                                  "before adding or encoding vectors");
}

const float* IndexTurboQuant::prepare_input(idx_t n, const float* x, std::vector<float>& buf, const char* what,
                                            bool subtract_mean, idx_t row0) const {
  const size_t dd = size_t(d);
  // Branch-free scan first (exponent bits all ones ⇔ NaN/Inf; vectorizes), the exact location only on failure.
  uint32_t any_bad = 0;
  const size_t total = size_t(n) * dd;
  for (size_t t = 0; t < total; ++t) {
    uint32_t u;
    std::memcpy(&u, x + t, 4);
    any_bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  if (any_bad != 0) {
    for (idx_t i = 0; i < n; ++i) {
      const float* row = x + size_t(i) * dd;
      for (size_t j = 0; j < dd; ++j) {
        TQ_CHECK(std::isfinite(row[j]), "IndexTurboQuant::" << what << ": vector " << row0 + i
                                                            << " has a non-finite value " << row[j]
                                                            << " at coordinate " << j
                                                            << "; all values must be finite (no NaN/Inf)");
      }
    }
  }
  const bool cosine = metric_ == IndexMetric::kCosine;
  const bool center = subtract_mean && !mean_.empty();
  if (!cosine && !center) return x;
  buf.resize(size_t(n) * dd);
  const float* mu = mean_.data();
  for (idx_t i = 0; i < n; ++i) {
    const float* row = x + size_t(i) * dd;
    float* out = buf.data() + size_t(i) * dd;
    if (cosine) {
      double s = 0;
      for (size_t j = 0; j < dd; ++j) s += double(row[j]) * row[j];
      // A zero vector stays zero: every score against it (or from it) is 0. Centered, its code would be the code
      // of −μ, and the L2 ranking of centered cosine (‖x̂‖ = 1) has no way to score it 0: refused.
      TQ_CHECK(!(center && s == 0 && ranks_as_l2()),
               "IndexTurboQuant::" << what << ": row " << row0 + i
                                   << " is the zero vector: a centered cosine index cannot represent it; drop it "
                                      "or use inner product");
      internal::normalize_row(row, dd, s, out);
    } else {
      std::copy(row, row + dd, out);
    }
    if (center) {
      for (size_t j = 0; j < dd; ++j) out[j] -= mu[j];
    }
  }
  return buf.data();
}

void IndexTurboQuant::add(idx_t n, const float* x) {
  TQ_CHECK(n >= 0, "IndexTurboQuant::add: n must be >= 0, got " << n);
  if (n == 0) return;
  TQ_CHECK(x != nullptr, "IndexTurboQuant::add: x is null for n = " << n);
  check_trained("add");
  check_scanner_in_sync();
  const size_t old_size = codes.size();
  std::vector<float> buf;
  try {
    codes.resize(old_size + size_t(n) * code_size);
    const idx_t rows = chunk_rows(d);
    for (idx_t i0 = 0; i0 < n; i0 += rows) {
      const idx_t ni = std::min<idx_t>(n - i0, rows);
      encode_rows(ni, x + size_t(i0) * size_t(d), codes.data() + old_size + size_t(i0) * code_size, buf, "add",
                  i0);
    }
    scanner_->add(size_t(n), codes.data() + old_size);
  } catch (...) {
    // Leave the index exactly as it was.
    codes.resize(old_size);
    rebuild_scanner();
    throw;
  }
  ntotal += n;
}

void IndexTurboQuant::add_sa_codes(idx_t n, const uint8_t* new_codes) {
  TQ_CHECK(n >= 0, "IndexTurboQuant::add_sa_codes: n must be >= 0, got " << n);
  if (n == 0) return;
  TQ_CHECK(new_codes != nullptr, "IndexTurboQuant::add_sa_codes: codes is null for n = " << n);
  check_trained("add_sa_codes");
  check_scanner_in_sync();
  for (idx_t i = 0; i < n; ++i) {
    const VectorFactors f = tq_->factors(new_codes + size_t(i) * code_size);
    TQ_CHECK(std::isfinite(f.norm) && f.norm >= 0,
             "IndexTurboQuant::add_sa_codes: code " << i << " has invalid norm " << f.norm << " (need finite >= 0)");
    TQ_CHECK(std::isfinite(f.renorm) && f.renorm > 0,
             "IndexTurboQuant::add_sa_codes: code " << i << " has invalid renorm factor " << f.renorm
                                                    << " (need finite > 0)");
    TQ_CHECK(std::isfinite(f.gamma) && f.gamma >= 0,
             "IndexTurboQuant::add_sa_codes: code " << i << " has invalid residual norm " << f.gamma
                                                    << " (need finite >= 0)");
  }
  if (metric_ == IndexMetric::kCosine && ranks_as_l2() && !mean_.empty()) {
    // A zero row's code is the code of 0 − μ (files written before format v4 accepted zero rows in centered cosine
    // indexes): the L2 form would score it 1/2 against every query instead of 0. No unit row has that code.
    std::vector<float> neg(static_cast<size_t>(d));
    for (size_t j = 0; j < size_t(d); ++j) neg[j] = 0.0f - mean_[j];
    std::vector<uint8_t> zero_code(code_size);
    tq_->encode(1, neg.data(), zero_code.data());
    for (idx_t i = 0; i < n; ++i) {
      TQ_CHECK(std::memcmp(new_codes + size_t(i) * code_size, zero_code.data(), code_size) != 0,
               "IndexTurboQuant::add_sa_codes: code "
                   << i << " is the code of a zero row (of −μ), which a centered cosine index cannot score (it ranks as "
                           "L2 on unit rows; indexes saved before format v4 accepted zero rows): rebuild the index "
                           "without zero rows, or use inner product");
    }
  }
  const size_t old_size = codes.size();
  try {
    codes.insert(codes.end(), new_codes, new_codes + size_t(n) * code_size);
    scanner_->add(size_t(n), codes.data() + old_size);
  } catch (...) {
    codes.resize(old_size);
    rebuild_scanner();
    throw;
  }
  ntotal += n;
}

FlatSearchParams IndexTurboQuant::resolve_params(const faiss::SearchParameters* params,
                                                 const faiss::IDSelector** sel, FlatSearchStats** stats) const {
  FlatSearchParams p = options_.search;
  *sel = nullptr;
  *stats = nullptr;
  if (params == nullptr) return p;
  *sel = params->sel;
  if (const auto* tp = dynamic_cast<const SearchParametersTurboQuant*>(params)) {
    if (tp->estimator) p.estimator = *tp->estimator;
    if (tp->rerank_factor >= 0) p.rerank_factor = tp->rerank_factor;
    if (tp->rerank_min >= 0) p.rerank_min = tp->rerank_min;
    // Negative z's keep the default; NaN is passed on so that validate_search_params refuses it.
    if (tp->qjl_prune_z >= 0 || std::isnan(tp->qjl_prune_z)) p.qjl_prune_z = tp->qjl_prune_z;
    if (tp->prefix_z >= 0 || std::isnan(tp->prefix_z)) p.prefix_z = tp->prefix_z;
    if (tp->lut_max != 0) p.lut_max = tp->lut_max;  // any other value than 0 is checked by validate_search_params
    if (tp->lut_z >= 0 || std::isnan(tp->lut_z)) p.lut_z = tp->lut_z;
    if (tp->query_batch >= 1) p.query_batch = tp->query_batch;
    *stats = tp->stats;
    validate_search_params(p);
  } else {
    TQ_CHECK(typeid(*params) == typeid(faiss::SearchParameters),
             "IndexTurboQuant: search parameters of type " << typeid(*params).name()
                                                           << " are not supported; pass SearchParametersTurboQuant or "
                                                              "faiss::SearchParameters (IDSelector only)");
  }
  return p;
}

void IndexTurboQuant::check_scanner_in_sync() const {
  TQ_CHECK(scanner_->size() == size_t(ntotal) && codes.size() == size_t(ntotal) * code_size,
           "IndexTurboQuant: codes (" << codes.size() << " bytes), ntotal (" << ntotal << ") and scanner ("
                                      << scanner_->size()
                                      << " rows) disagree; `codes` was modified directly: call rebuild_scanner()");
}

void IndexTurboQuant::search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                             const faiss::SearchParameters* params) const {
  TQ_CHECK(k > 0, "IndexTurboQuant::search: k must be >= 1, got " << k);
  TQ_CHECK(k <= idx_t(INT_MAX), "IndexTurboQuant::search: k must be <= " << INT_MAX << ", got " << k);
  TQ_CHECK(n >= 0, "IndexTurboQuant::search: number of queries must be >= 0, got " << n);
  if (n == 0) return;
  TQ_CHECK(x != nullptr && distances != nullptr && labels != nullptr,
           "IndexTurboQuant::search: null query, distance or label pointer");
  const faiss::IDSelector* sel = nullptr;
  FlatSearchStats* stats = nullptr;
  const FlatSearchParams p = resolve_params(params, &sel, &stats);
  std::vector<float> buf;
  const float* q = prepare_input(n, x, buf, "search", false);  // normalized for cosine, not centered
  check_scanner_in_sync();
  if (sel != nullptr) {
    search_selected(n, q, k, p, *sel, distances, labels);  // the distance computer centers; zero queries score 0
    return;
  }
  if (ntotal == 0) {
    const float pad = metric_ == IndexMetric::kL2 ? FLT_MAX : -FLT_MAX;
    std::fill(distances, distances + size_t(n) * size_t(k), pad);
    std::fill(labels, labels + size_t(n) * size_t(k), idx_t(-1));
    return;
  }
  FlatSearchStats st;
  FlatSearchStats* stp = stats ? &st : nullptr;
  const size_t dd = size_t(d), kk = size_t(k);
  // Cosine: a zero query normalizes to 0 and scores 0 against every row (FAISS semantics); it gets the first k
  // rows, distance 0, without a scan (centered, the scanner would rank −μ instead).
  bool any_zero = false;
  std::vector<idx_t> rows;  // cosine: the non-zero queries
  if (metric_ == IndexMetric::kCosine) {
    for (idx_t qi = 0; qi < n; ++qi) {
      if (!is_zero_row(q + size_t(qi) * dd, dd)) {
        rows.push_back(qi);
        continue;
      }
      any_zero = true;
      float* D = distances + size_t(qi) * kk;
      idx_t* I = labels + size_t(qi) * kk;
      for (size_t j = 0; j < kk; ++j) {
        D[j] = j < size_t(ntotal) ? 0.0f : -FLT_MAX;
        I[j] = j < size_t(ntotal) ? idx_t(j) : idx_t(-1);
      }
    }
  }
  if (!any_zero) {
    search_prepared(n, q, k, p, distances, labels, stp);
  } else if (!rows.empty()) {
    // Search the non-zero queries as one batch and scatter their results back.
    const size_t m = rows.size();
    std::vector<float> qs(m * dd), Ds(m * kk);
    std::vector<idx_t> Is(m * kk);
    for (size_t r = 0; r < m; ++r) std::copy_n(q + size_t(rows[r]) * dd, dd, qs.data() + r * dd);
    search_prepared(idx_t(m), qs.data(), k, p, Ds.data(), Is.data(), stp);
    for (size_t r = 0; r < m; ++r) {
      std::copy_n(Ds.data() + r * kk, kk, distances + size_t(rows[r]) * kk);
      std::copy_n(Is.data() + r * kk, kk, labels + size_t(rows[r]) * kk);
    }
  }
  if (stats) {
    stats->scanned += st.scanned;
    stats->reranked += st.reranked;
    stats->pruned += st.pruned;
  }
}

void IndexTurboQuant::search_prepared(idx_t n, const float* q, idx_t k, const FlatSearchParams& p, float* distances,
                                      idx_t* labels, FlatSearchStats* stats) const {
  const size_t dd = size_t(d), kk = size_t(k);
  const bool center = !mean_.empty();
  if (center && ranks_as_l2()) {
    // L2: ‖q − x‖² = ‖(q − μ) − (x − μ)‖². Cosine (unit q̂, x̂): ⟨q̂, x̂⟩ = 1 − ‖(q̂ − μ) − (x̂ − μ)‖²/2. The scanner
    // (Metric::kL2) sees centered queries and codes and reports ‖q − μ‖² + ‖x − μ‖² − 2·⟨q − μ, x − μ⟩_est.
    std::vector<float> qc(size_t(n) * dd);
    const float* mu = mean_.data();
    for (idx_t qi = 0; qi < n; ++qi) {
      const float* row = q + size_t(qi) * dd;
      float* out = qc.data() + size_t(qi) * dd;
      for (size_t j = 0; j < dd; ++j) out[j] = row[j] - mu[j];
    }
    scanner_->search(size_t(n), qc.data(), codes.data(), int(k), p, distances, labels, stats);
    if (metric_ == IndexMetric::kCosine) {
      for (size_t t = 0; t < size_t(n) * kk; ++t)
        distances[t] = labels[t] >= 0 ? cosine_from_centered_l2(distances[t]) : -FLT_MAX;
    }
    return;
  }
  scanner_->search(size_t(n), q, codes.data(), int(k), p, distances, labels, stats);
  if (center) {
    // Inner product: ⟨q, x⟩ = ⟨q, x − μ⟩ + ⟨q, μ⟩, the same constant for every row of a query (ranking unchanged).
    for (idx_t qi = 0; qi < n; ++qi) {
      const float c = mean_dot(q + size_t(qi) * dd);
      float* D = distances + size_t(qi) * kk;
      const idx_t* I = labels + size_t(qi) * kk;
      for (size_t j = 0; j < kk; ++j) {
        if (I[j] >= 0) D[j] += c;
      }
    }
  }
}

void IndexTurboQuant::search_selected(idx_t n, const float* x, idx_t k, const FlatSearchParams& p,
                                      const faiss::IDSelector& sel, float* distances, idx_t* labels) const {
  const bool l2 = metric_ == IndexMetric::kL2;
  // x is already normalized for cosine; the distance computer centers it (cosine with centering: L2 form, converted)
  // and scores a zero cosine query 0 against every row, so the first selected rows come first.
  parallel_for_rethrow(n, [&](int64_t qi) {
    internal::TurboQuantDistanceComputer dc(*this, p.estimator);
    dc.set_query(x + size_t(qi) * size_t(d));
    std::vector<std::pair<float, idx_t>> cand;
    for (idx_t i = 0; i < ntotal; ++i) {
      if (!sel.is_member(i)) continue;
      cand.emplace_back(dc.distance_to_code(codes.data() + size_t(i) * code_size), i);
    }
    const size_t kk = std::min<size_t>(size_t(k), cand.size());
    auto better = [l2](const std::pair<float, idx_t>& a, const std::pair<float, idx_t>& b) {
      if (a.first != b.first) return l2 ? a.first < b.first : a.first > b.first;
      return a.second < b.second;
    };
    std::partial_sort(cand.begin(), cand.begin() + kk, cand.end(), better);
    float* D = distances + size_t(qi) * size_t(k);
    idx_t* I = labels + size_t(qi) * size_t(k);
    for (size_t j = 0; j < size_t(k); ++j) {
      if (j < kk) {
        D[j] = cand[j].first;
        I[j] = cand[j].second;
      } else {
        D[j] = l2 ? FLT_MAX : -FLT_MAX;
        I[j] = -1;
      }
    }
  });
}

void IndexTurboQuant::range_search(idx_t n, const float* x, float radius, faiss::RangeSearchResult* result,
                                   const faiss::SearchParameters* params) const {
  TQ_CHECK(n >= 0, "IndexTurboQuant::range_search: number of queries must be >= 0, got " << n);
  TQ_CHECK(result != nullptr, "IndexTurboQuant::range_search: result is null");
  TQ_CHECK(result->nq == size_t(n),
           "IndexTurboQuant::range_search: result has nq = " << result->nq << " but n = " << n);
  TQ_CHECK(!std::isnan(radius), "IndexTurboQuant::range_search: radius is NaN");
  const faiss::IDSelector* sel = nullptr;
  FlatSearchStats* stats = nullptr;
  const FlatSearchParams p = resolve_params(params, &sel, &stats);
  if (n > 0) TQ_CHECK(x != nullptr, "IndexTurboQuant::range_search: x is null for n = " << n);
  std::vector<float> buf;
  const float* q = n > 0 ? prepare_input(n, x, buf, "range_search", false) : x;  // the distance computer centers
  check_scanner_in_sync();
  const bool l2 = metric_ == IndexMetric::kL2;
  std::vector<std::vector<std::pair<float, idx_t>>> hits(static_cast<size_t>(n));
  parallel_for_rethrow(n, [&](int64_t qi) {
    internal::TurboQuantDistanceComputer dc(*this, p.estimator);
    dc.set_query(q + size_t(qi) * size_t(d));
    auto& h = hits[size_t(qi)];
    for (idx_t i = 0; i < ntotal; ++i) {
      if (sel != nullptr && !sel->is_member(i)) continue;
      const float dist = dc.distance_to_code(codes.data() + size_t(i) * code_size);
      if (l2 ? dist < radius : dist > radius) h.emplace_back(dist, i);
    }
  });
  for (idx_t qi = 0; qi < n; ++qi) result->lims[qi] = hits[size_t(qi)].size();
  result->lims[n] = 0;
  result->do_allocation();
  for (idx_t qi = 0; qi < n; ++qi) {
    size_t o = result->lims[qi];
    for (const auto& [dist, id] : hits[size_t(qi)]) {
      result->distances[o] = dist;
      result->labels[o] = id;
      ++o;
    }
  }
  if (stats) stats->scanned += size_t(n) * size_t(ntotal);
}

void IndexTurboQuant::reset() {
  faiss::IndexFlatCodes::reset();
  scanner_->reset();
}

size_t IndexTurboQuant::remove_ids(const faiss::IDSelector& sel) {
  check_scanner_in_sync();
  const size_t removed = faiss::IndexFlatCodes::remove_ids(sel);
  rebuild_scanner();
  return removed;
}

void IndexTurboQuant::check_compatible_for_merge(const faiss::Index& other) const {
  const auto* o = dynamic_cast<const IndexTurboQuant*>(&other);
  TQ_CHECK(o != nullptr, "IndexTurboQuant::merge_from: the other index is a " << typeid(other).name()
                                                                              << ", not an IndexTurboQuant");
  TQ_CHECK(o->d == d, "IndexTurboQuant::merge_from: dimension mismatch, " << o->d << " vs " << d);
  TQ_CHECK(o->metric_ == metric_, "IndexTurboQuant::merge_from: metric mismatch, "
                                      << index_metric_name(o->metric_) << " vs " << index_metric_name(metric_));
  TQ_CHECK(same_quantizer_options(o->options_.quantizer, options_.quantizer),
           "IndexTurboQuant::merge_from: quantizer options differ (bits, rotation, norm format, renorm, fold, QJL): "
           "codes are not interchangeable");
  TQ_CHECK(o->options_.center == options_.center,
           "IndexTurboQuant::merge_from: one index is centered and the other is not (center "
               << o->options_.center << " vs " << options_.center << "): codes are not interchangeable");
  if (options_.center && o->ntotal > 0) {
    TQ_CHECK(o->mean_.size() == mean_.size() &&
                 std::memcmp(o->mean_.data(), mean_.data(), mean_.size() * sizeof(float)) == 0,
             "IndexTurboQuant::merge_from: the two indexes were trained with different means (centering): codes "
             "are relative to different vectors μ; train both with the same data or use set_mean()");
  }
}

void IndexTurboQuant::merge_from(faiss::Index& other, idx_t add_id) {
  check_compatible_for_merge(other);
  TQ_CHECK(add_id == 0, "IndexTurboQuant::merge_from: add_id must be 0 (a flat index keeps no ids), got " << add_id);
  auto& o = static_cast<IndexTurboQuant&>(other);
  TQ_CHECK(&o != this, "IndexTurboQuant::merge_from: cannot merge an index into itself");
  o.check_scanner_in_sync();
  check_scanner_in_sync();
  if (o.ntotal > 0) {
    const size_t old_size = codes.size();
    try {
      codes.insert(codes.end(), o.codes.begin(), o.codes.end());
      scanner_->add(size_t(o.ntotal), codes.data() + old_size);
    } catch (...) {
      codes.resize(old_size);
      rebuild_scanner();
      throw;
    }
    ntotal += o.ntotal;
  }
  o.reset();
}

void IndexTurboQuant::reconstruct(idx_t key, float* recons) const {
  TQ_CHECK(key >= 0 && key < ntotal,
           "IndexTurboQuant::reconstruct: key " << key << " out of range [0, " << ntotal << ")");
  tq_->decode(1, codes.data() + size_t(key) * code_size, recons);
  if (!mean_.empty()) {
    for (int j = 0; j < d; ++j) recons[j] += mean_[size_t(j)];
  }
}

void IndexTurboQuant::reconstruct_n(idx_t i0, idx_t ni, float* recons) const {
  TQ_CHECK(i0 >= 0 && ni >= 0 && i0 + ni <= ntotal,
           "IndexTurboQuant::reconstruct_n: rows [" << i0 << ", " << i0 + ni << ") out of range [0, " << ntotal
                                                    << ")");
  if (ni == 0) return;
  sa_decode(ni, codes.data() + size_t(i0) * code_size, recons);
}

void IndexTurboQuant::sa_encode(idx_t n, const float* x, uint8_t* bytes) const {
  TQ_CHECK(n >= 0, "IndexTurboQuant::sa_encode: n must be >= 0, got " << n);
  if (n == 0) return;
  TQ_CHECK(x != nullptr && bytes != nullptr, "IndexTurboQuant::sa_encode: null input or output");
  check_trained("sa_encode");
  std::vector<float> buf;
  encode_rows(n, x, bytes, buf, "sa_encode");
}

void IndexTurboQuant::sa_decode(idx_t n, const uint8_t* bytes, float* x) const {
  TQ_CHECK(n >= 0, "IndexTurboQuant::sa_decode: n must be >= 0, got " << n);
  if (n == 0) return;
  TQ_CHECK(x != nullptr && bytes != nullptr, "IndexTurboQuant::sa_decode: null input or output");
  check_trained("sa_decode");
  tq_->decode(size_t(n), bytes, x);
  if (!mean_.empty()) {
    const float* mu = mean_.data();
    for (idx_t i = 0; i < n; ++i) {
      float* row = x + size_t(i) * size_t(d);
      for (int j = 0; j < d; ++j) row[j] += mu[j];
    }
  }
}

faiss::FlatCodesDistanceComputer* IndexTurboQuant::get_FlatCodesDistanceComputer() const {
  return new internal::TurboQuantDistanceComputer(*this, options_.search.estimator);
}

std::unique_ptr<faiss::FlatCodesDistanceComputer> IndexTurboQuant::make_distance_computer(Estimator estimator) const {
  return std::make_unique<internal::TurboQuantDistanceComputer>(*this, estimator);
}

void IndexTurboQuant::rebuild_scanner() {
  scanner_->reset();
  const size_t rows = code_size > 0 ? codes.size() / code_size : 0;
  TQ_CHECK(rows == size_t(ntotal) && codes.size() == rows * code_size,
           "IndexTurboQuant::rebuild_scanner: codes hold " << codes.size() << " bytes, expected ntotal·code_size = "
                                                           << ntotal << "·" << code_size);
  if (rows > 0) scanner_->add(rows, codes.data());
}

}  // namespace tqsearch
