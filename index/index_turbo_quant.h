// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// IndexTurboQuant: a faiss::Index over TurboQuant codes (arXiv 2504.19874) that needs no training.
///
/// Optional centering (options.center, factory token ",Center"): the codebooks stay data-oblivious, but train()
/// learns one mean vector μ (the mean of the given rows; for cosine, of the normalized rows) and every stored code
/// is the code of x − μ. Data far from the origin (SIFT) otherwise spends its bits on the common mean direction.
/// Distances keep their meaning:
///  - L2: ‖q − x‖² = ‖(q − μ) − (x − μ)‖²: the scanner sees q − μ and the codes of x − μ.
///  - Cosine: rows and queries are unit vectors x̂, q̂ after normalization, so
///    ⟨q̂, x̂⟩ = (‖q̂‖² + ‖x̂‖² − ‖q̂ − x̂‖²)/2 = 1 − ‖(q̂ − μ) − (x̂ − μ)‖²/2: the index ranks as L2 on centered queries
///    and codes (scanner in Metric::kL2) and reports 1 − L2/2 (cosine_from_centered_l2), an estimate of ⟨q̂, x̂⟩
///    (descending; metric_type stays METRIC_INNER_PRODUCT). Search, IDSelector search, range_search and the
///    distance computer (HNSW storage, symmetric_dis from the two reconstructions) all use this rule. A zero row
///    cannot be represented (cosine scores it 0, but ‖x̂‖ = 1 is what the identity needs and its code would be the
///    code of −μ): add / sa_encode refuse it with an error naming the row (the index is left unchanged), so no code
///    for add_sa_codes can come from one. On unit rows around a strong common offset this ranks far better than
///    the inner-product form below (clustered 100k × 1536 unit rows, TQ4 10-R@10: cosine 0.635, cosine centered
///    with the IP form 0.219, with this rule 0.755; GloVe cosine 0.864 / 0.876 / 0.886; bench/RESULTS.md).
///    Folded rows (quantizer.fold_renorm: only ‖x − μ‖/ρ stored) lack the ‖x − μ‖² this needs: cosine with centering
///    and fold_renorm uses the IP form below (and accepts zero rows), with its caveat.
///  - IP: ⟨q, x⟩ = ⟨q, x − μ⟩ + ⟨q, μ⟩; the scanner sees q (not centered) and the constant is added, so distances
///    stay estimates of the true inner product. General IP cannot use the L2 identity (it would need ‖x‖², i.e.
///    ⟨μ, x⟩ per row, which the row code does not hold). Caveat: the estimate's error grows with the part of q
///    orthogonal to x − μ, and the uncentered q keeps its whole component along μ; on data with a strong common
///    direction centering therefore *lowers* IP recall (the set above as IP: 0.635 → 0.219), while near-centered
///    data gain (GloVe +1.2 points). Use centering for L2 (SIFT: +3 to +10 points) and cosine, for IP only when ‖μ‖
///    is small (unit-norm data: build the index as cosine).
/// reconstruct / sa_decode add μ back, sa_encode subtracts it. With centering on, is_trained is false until
/// train() (or set_mean()); add / sa_encode / add_sa_codes / sa_decode on an untrained index throw.
///
/// Storage: the row codes of TurboQuantizer in faiss::IndexFlatCodes::codes (ntotal, code_size), plus a
/// FlatScanner beside them (blocked fast-scan layout and per-vector factors) kept in sync by add, remove_ids,
/// merge_from and reset. Search = FlatScanner's pipeline: rotate query → uint8 LUT scan → top k·rerank_factor →
/// float rerank with the chosen estimator → top-k.
///
/// Metrics: inner product (distances = IP estimates, descending), L2 (squared-L2 estimates
/// ‖q‖² + ‖x‖² − 2⟨q, x⟩, ascending), cosine (vectors normalized at add and queries at search, inner product
/// inside — L2 on centered unit vectors when centered and not folded, see above; metric_type reports
/// METRIC_INNER_PRODUCT). A zero
/// query under cosine scores 0 against every row (FAISS semantics): search returns the first k rows (the first
/// selected ones with an IDSelector) with distance 0, −1 / −FLT_MAX beyond ntotal, without a scan.
///
/// Errors: every check of this layer throws tqsearch::Error (quant/error.h; a std::runtime_error): bad
/// dimensions, k <= 0, NaN/Inf in vectors or queries, zero rows added to a centered cosine index, options the
/// quantizer cannot serve, out-of-range keys.
/// Exceptions of quant/ (also tqsearch::Error) propagate unchanged. FAISS wrappers around this index throw their
/// own faiss::FaissException for their own checks.
///
/// Works as the inner index of faiss::IndexIDMap / IndexIDMap2 / IndexShards / IndexRefineFlat / IndexPreTransform
/// and as faiss::IndexHNSW storage (through get_distance_computer()). Cosine under IndexRefineFlat: the refine
/// index keeps the raw vectors, so normalize outside (IndexPreTransform(NormalizationTransform), as index_factory
/// does) and use inner product inside. Under IndexHNSW, FAISS calls the distance computer inside OpenMP regions
/// where nothing may throw: a NaN/Inf query there gets the worst distance to every vector instead of an error.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <faiss/IndexFlatCodes.h>

#include "quant/flat_scanner.h"
#include "quant/turbo_quantizer.h"

namespace tqsearch {

/// Similarity of an IndexTurboQuant.
enum class IndexMetric : uint32_t {
  kInnerProduct = 0,  ///< ⟨q, x⟩, larger is closer (faiss::METRIC_INNER_PRODUCT)
  kL2 = 1,            ///< ‖q − x‖², smaller is closer (faiss::METRIC_L2)
  kCosine = 2,        ///< ⟨q/‖q‖, x/‖x‖⟩: normalize at add and at query; inner product inside (centered: L2,
                      ///< unless the rows are folded)
};

/// "ip", "l2", "cosine".
const char* index_metric_name(IndexMetric metric);

/// Everything that fixes an IndexTurboQuant besides d and the metric. All fields are saved by write_index.
struct IndexTurboQuantOptions {
  /// The codes: mse bits per coordinate (1, 2, 3, 4, 8 or fractional such as 2.5 / 3.5), rotation kind and seed,
  /// optional renorm factor ρ and QJL sketch. The index default stores ρ (renormalized estimator).
  TurboQuantizerOptions quantizer = default_quantizer();
  /// Learn a mean vector μ in train() and encode x − μ (see the file comment: for L2 and cosine; for IP only when
  /// the mean is small; cosine then refuses zero rows). Off by default: the index then needs no training. Saved by
  /// write_index (format v2).
  bool center = false;
  /// Scan layout (FlatLayout::scan_bits): −1 = FlatLayout::recommended (full codes up to 4 bits, a 2-bit prefix
  /// scan above); 0 = scan the full codes; 1..4 = prefix scan with that many bits per coordinate, bounded by
  /// search.prefix_z (half the lookups of a 4-bit scan at 2 bits; GloVe 100k TQ4, 1 thread: 1.15× the full scan at
  /// equal recall with z = 2; with search.lut_max 63 and z = 0.25 ~1.7× FAISS PQ100x4fs at 10-R@10 0.85 —
  /// bench/RESULTS.md). Not part of the codes: only how this index scans them. Saved by write_index (format v3).
  int scan_bits = -1;
  /// Default search parameters (overridable per call with SearchParametersTurboQuant). The default estimator is
  /// the renormalized one (FIELD.md: best ranking at equal bits); `level` is not saved (chosen at run time), nor
  /// `split_min_blocks` (a property of the machine); prefix_z, lut_max and lut_z are saved from format v3 on.
  FlatSearchParams search = default_search();

  /// 4 bits, Hadamard rotation, ρ stored, no QJL sketch.
  static TurboQuantizerOptions default_quantizer() {
    TurboQuantizerOptions q;
    q.bits = 4;
    q.store_renorm = true;
    return q;
  }
  /// FlatSearchParams defaults with the renormalized estimator.
  static FlatSearchParams default_search() {
    FlatSearchParams p;
    p.estimator = Estimator::kRenorm;
    return p;
  }
};

/// Per-search overrides (faiss::SearchParameters subclass, pass as the `params` argument of search /
/// range_search). Unset fields (nullopt / negative) keep the index defaults. `sel` (faiss::IDSelector) restricts
/// the search to the selected row numbers; it switches to an exhaustive float scan with the estimator.
struct SearchParametersTurboQuant : faiss::SearchParameters {
  std::optional<Estimator> estimator;  ///< rerank estimator (must be supported by the stored codes)
  int rerank_factor = -1;              ///< >= 0 overrides: rescore top k·rerank_factor (0 = scan estimate only)
  int rerank_min = -1;                 ///< >= 0 overrides the minimum number of reranked candidates
  float qjl_prune_z = -1;              ///< >= 0 overrides the QJL pruning z (0 = never prune)
  float prefix_z = -1;                 ///< >= 0 overrides the prefix-scan bound z (prefix scan layouts)
  int lut_max = 0;                     ///< 0 keeps the default; else 63, 127 or 255 (others are refused)
  float lut_z = -1;                    ///< >= 0 overrides the z of the coarse-LUT bound (NaN/inf refused)
  int query_batch = 0;                 ///< 1..64 overrides the number of queries per scan pass
  FlatSearchStats* stats = nullptr;    ///< if set, receives the scanner statistics of this call (summed)
};

class IndexTurboQuant : public faiss::IndexFlatCodes {
 public:
  /// @param d        dimension, 1..65536
  /// @param metric   inner product, L2 or cosine
  /// @param options  quantizer and default search options (validated: estimator must be supported by the codes)
  IndexTurboQuant(int d, IndexMetric metric = IndexMetric::kInnerProduct, const IndexTurboQuantOptions& options = {});
  /// FAISS-style constructor: METRIC_INNER_PRODUCT or METRIC_L2 (other FAISS metrics are rejected).
  IndexTurboQuant(int d, faiss::MetricType metric, const IndexTurboQuantOptions& options = {});
  ~IndexTurboQuant() override;

  IndexMetric metric() const { return metric_; }
  const IndexTurboQuantOptions& options() const { return options_; }
  const TurboQuantizer& quantizer() const { return *tq_; }
  /// The scanner over the codes: Metric::kL2 when ranks_as_l2(), else Metric::kInnerProduct.
  const FlatScanner& scanner() const { return *scanner_; }
  /// Whether rows are ranked by a squared-L2 estimate on centered data: L2, and cosine with centering unless the
  /// rows are folded (fold_renorm keeps no ‖x − μ‖: the IP form then; file comment).
  bool ranks_as_l2() const;
  /// Cosine estimate ⟨q̂, x̂⟩ of unit q̂, x̂ from the squared-L2 estimate of ‖(q̂ − μ) − (x̂ − μ)‖² = ‖q̂ − x̂‖²:
  /// (‖q̂‖² + ‖x̂‖² − l2)/2 = 1 − l2/2.
  static float cosine_from_centered_l2(float l2) { return 1.0f - 0.5f * l2; }
  /// Change the default search parameters (validated as in the constructor).
  void set_search_params(const FlatSearchParams& params);

  /// Without centering: a no-op (TurboQuant is data-oblivious; accepts any n and x). With centering: μ = mean of
  /// the n rows (cosine: of the normalized rows), accumulated in double in one streaming pass; sets is_trained.
  /// Requires n >= 1, finite values, and an empty index (the stored codes are relative to the current μ).
  /// @param x  (n, d) float32
  void train(idx_t n, const float* x) override;
  /// Whether codes are of x − μ (options().center).
  bool centered() const { return options_.center; }
  /// μ, (d) floats; empty until trained (and always empty without centering).
  const std::vector<float>& mean() const { return mean_; }
  /// Set μ directly (index I/O, or a mean computed elsewhere, e.g. over a larger stream than fits in memory).
  /// Requires centering on, an empty index and finite values; sets is_trained. @param mean (d) float32
  void set_mean(const float* mean);
  /// ⟨q, μ⟩ for a query: the constant an inner-product search of a centered index adds to the estimate of
  /// ⟨q, x − μ⟩ (cosine indexes rank as L2 instead). 0 without centering. @param q (d)
  float mean_dot(const float* q) const;
  /// Πμ, (d) floats in the rotated domain (empty until trained): symmetric distances use it.
  const std::vector<float>& mean_rotated() const { return mean_rotated_; }
  /// @param x  (n, d) float32; rejects NaN/Inf, and zero rows for cosine with centering (the message names the row;
  /// the index is left as it was). Row numbers ntotal..ntotal+n−1.
  void add(idx_t n, const float* x) override;
  /// Append n codes produced by sa_encode of a compatible index (same options and d). Per-vector factors are
  /// checked (finite norm >= 0, finite ρ > 0, finite γ >= 0). @param codes (n, code_size)
  void add_sa_codes(idx_t n, const uint8_t* codes);

  /// k-NN search. @param x (n, d) float32 queries; @param k >= 1 (k > ntotal pads labels with −1 and distances
  /// with −FLT_MAX (IP/cosine) or +FLT_MAX (L2), as FAISS does); @param distances, labels (n, k).
  /// @param params  nullptr, a SearchParametersTurboQuant, or a plain faiss::SearchParameters (only `sel`).
  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override;
  /// All rows with estimate > radius (IP/cosine) or < radius (L2), scored with the estimator on every row
  /// (no scan shortlist); QJL gives unbiased scores for thresholds.
  void range_search(idx_t n, const float* x, float radius, faiss::RangeSearchResult* result,
                    const faiss::SearchParameters* params = nullptr) const override;

  void reset() override;
  /// FAISS flat semantics: selected rows are removed and the remaining rows are renumbered (shifted down).
  size_t remove_ids(const faiss::IDSelector& sel) override;
  /// Appends the rows of `other` (an IndexTurboQuant with identical d, metric, quantizer options and, when
  /// centered, a bit-identical μ), then resets
  /// `other` (as faiss::IndexFlatCodes does). add_id must be 0 (a flat index has no ids).
  void merge_from(faiss::Index& other, idx_t add_id = 0) override;
  void check_compatible_for_merge(const faiss::Index& other) const override;

  /// mse reconstruction ‖x‖·Πᵀŷ (+ μ when centered; the QJL sketch is not added). @param recons (d) / (ni, d)
  void reconstruct(idx_t key, float* recons) const override;
  void reconstruct_n(idx_t i0, idx_t ni, float* recons) const override;

  /// Standalone codec: the exact codes add() stores (cosine: of the normalized vector; centered: of x − μ; the same
  /// refusals as add). @param bytes (n, code_size)
  void sa_encode(idx_t n, const float* x, uint8_t* bytes) const override;
  /// @param bytes (n, code_size) @param x (n, d) mse reconstruction (+ μ when centered)
  void sa_decode(idx_t n, const uint8_t* bytes, float* x) const override;

  /// Distance computer with the default estimator (HNSW storage, FAISS utilities): distances as search reports
  /// them (IP / cosine estimate, or squared-L2 estimate); symmetric_dis compares two mse reconstructions.
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
  /// Same with an explicit estimator.
  std::unique_ptr<faiss::FlatCodesDistanceComputer> make_distance_computer(Estimator estimator) const;

  /// Rebuild the scanner from `codes` (only needed when `codes` was modified directly, bypassing the API).
  void rebuild_scanner();

 private:
  void init();
  FlatSearchParams resolve_params(const faiss::SearchParameters* params, const faiss::IDSelector** sel,
                                  FlatSearchStats** stats) const;
  void validate_search_params(const FlatSearchParams& p) const;
  /// Rows ready for the quantizer/scanner: checked finite, normalized for cosine, and μ subtracted when
  /// `subtract_mean` and the index is centered (cosine: a zero row is then refused). Errors name row row0 + i.
  /// Returns x or `buf`'s data.
  const float* prepare_input(idx_t n, const float* x, std::vector<float>& buf, const char* what, bool subtract_mean,
                             idx_t row0 = 0) const;
  /// Codes of n rows as add() stores them (normalized / centered as the index requires) into out (n, code_size).
  /// row0: the number of the first row in error messages.
  void encode_rows(idx_t n, const float* x, uint8_t* out, std::vector<float>& buf, const char* what,
                   idx_t row0 = 0) const;
  /// Throws unless the index can encode/decode (trained when centering is on).
  void check_trained(const char* what) const;
  void search_selected(idx_t n, const float* x, idx_t k, const FlatSearchParams& p, const faiss::IDSelector& sel,
                       float* distances, idx_t* labels) const;
  /// The scanner search of n prepared (normalized for cosine, not centered, non-zero for cosine) queries on a
  /// non-empty index: centers the queries when ranks_as_l2(), converts or offsets the distances.
  void search_prepared(idx_t n, const float* q, idx_t k, const FlatSearchParams& p, float* distances, idx_t* labels,
                       FlatSearchStats* stats) const;
  void check_scanner_in_sync() const;

  IndexMetric metric_;
  IndexTurboQuantOptions options_;
  std::unique_ptr<TurboQuantizer> tq_;
  std::unique_ptr<FlatScanner> scanner_;
  std::vector<float> mean_;          // μ (d), centering only, empty until trained
  std::vector<float> mean_rotated_;  // Πμ (d)
};

}  // namespace tqsearch
