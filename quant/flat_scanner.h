// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The flat search pipeline over TurboQuant codes, independent of FAISS (index/ adapts it):
///
///   queries ─rotate─▶ uint8 LUTs ─SIMD scan (several queries per pass)─▶ approx score × per-vector factor
///     ─▶ top k·rerank_factor (reservoir, threshold skip) ─▶ float rerank with the estimator ─▶ top-k
///
/// The per-vector factor is ‖x‖ (mse, QJL) or ‖x‖/ρ (renorm), so the scan already ranks by the cheap part of the
/// chosen estimator. The scan compares each block's scores with the running k-th best in registers (FusedScan);
/// only blocks holding a candidate reach the candidate list.
///
/// Prefix layout (FlatLayout::scan_bits, e.g. 2; recommended for codes above 4 bits): the scan reads only the top bits of each
/// index, two coordinates per nibble — half the lookups of a 4-bit scan — and scores ‖x‖·⟨Πq, ŷ_s⟩/⟨ŷ, ŷ_s⟩
/// (ŷ_s the prefix reconstruction; the ratio renormalizes the coarse code against the full one, from the codes at
/// add time). The gap to the full-code estimate is ⟨Πq, e_x⟩ for a per-row vector e_x (the difference of the two
/// reconstructions, scaled as the estimator scales them); after the random rotation it behaves like
/// N(0, ‖q‖²‖e_x‖²/d). A row is rescored with the full codes (the estimator, in float, exactly as the full path's
/// rerank) when its coarse score + z·‖e_x‖·‖q‖/√d beats the k-th best full score so far (FlatSearchParams::
/// prefix_z); only those rows are read in full, and the top-k is exact over them. Bounded scans visit a pilot of
/// evenly spaced chunks (1/64 of the blocks) first, so the k-th best is close to its final value before most rows
/// are tested. Comparisons are ≥ with ties ordered by row, so when the bound admits every row that reaches the k-th
/// best (z → ∞) the result does not depend on the block order; with a finite z the order (and the thread split)
/// only changes which rows near the bound get rescored. RaBitQ's fast-scan + extra-bits
/// design with the same kind of bound. L2 ranks by ‖x‖² − 2⟨q, x⟩ and reports ‖q‖² + ‖x‖² − 2⟨q, x⟩.
/// QJL rerank skips candidates whose upper confidence bound (mse estimate + z·σ, σ from the QJL variance
/// bound) is below the k-th best lower bound.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "quant/fast_scan_codes.h"
#include "quant/turbo_quantizer.h"

namespace tqsearch {

enum class Metric : uint32_t { kInnerProduct = 0, kL2 = 1 };

struct FlatSearchParams {
  Estimator estimator = Estimator::kMse;  ///< estimator of the rerank (and of the scan's per-vector factor)
  int rerank_factor = 4;       ///< rescore the top k·rerank_factor scan candidates in float; 0 = no rerank
  int rerank_min = 16;         ///< ...but at least this many (when rerank_factor > 0)
  float qjl_prune_z = 3.0f;    ///< QJL: skip candidates more than z·σ below the k-th (0 = never skip)
  /// Prefix layouts: z of the confidence bound that decides which rows are rescored with the full codes (larger:
  /// more rows read in full, fewer misses; 2 misses a row that belongs in the top-k with probability ≈ 2.3% under
  /// the Gaussian model, and measured recall equals the full scan's on GloVe and SIFT). >= 0. rerank_factor,
  /// rerank_min and qjl_prune_z do not apply to prefix layouts.
  float prefix_z = 2.0f;
  int query_batch = 4;         ///< queries scanned together per pass over the codes
  /// Largest uint8 LUT entry of the scan: 255 (finest); 127 or 63 let the kernel add two or four lookups per vector
  /// in 8 bits before widening (AVX2 kernel 1.13× at 63 on this Zen 3) for a 2×/4× coarser scan value. With a coarse LUT (full
  /// layout, mse or renorm estimator) the scan is bounded like a prefix scan: a row is rescored with the full codes
  /// when its scan value + lut_z·σ beats the k-th best full estimate, σ = multiplier·scale·√(G/12) the spread of the
  /// LUT rounding over G groups; the top-k is exact over the rescored rows and rerank_factor does not apply.
  /// Prefix layouts take it too: the bound is then the prefix one plus lut_z·σ (GloVe 100k TQ4, Scan2 at prefix_z
  /// 0 and lut_z 0: lut_max 63 1.05× faster than 255, 10-R@10 0.822 either way; bench/RESULTS.md).
  int lut_max = 255;
  float lut_z = 3.0f;  ///< z of that bound (>= 0; larger: more rows rescored, fewer misses)
  /// With fewer queries than threads·query_batch, split the codes across threads only when every thread gets at
  /// least this many 32-vector blocks: below that, starting a parallel region (and, on a busy machine, waiting
  /// for a core) costs more than it saves. >= 1.
  int split_min_blocks = 4096;
  SimdLevel level = simd_level();
};

/// Statistics of one search call (for tests and benchmarks).
struct FlatSearchStats {
  size_t scanned = 0;    ///< vector×query pairs scanned
  size_t reranked = 0;   ///< candidates rescored in float
  size_t pruned = 0;     ///< QJL candidates skipped by the confidence bound
};

/// How FlatScanner lays out the codes for its scan (not part of the row codes; chosen when it is built).
struct FlatLayout {
  /// 0: scan the full codes. 1..4: prefix scan with at most this many bits per coordinate (see above).
  int scan_bits = 0;
  /// The layout tqsearch recommends for these codes: scan_bits 2 when some coordinate has more than 4 bits (the
  /// full scan of those is the slow 8-bit path; GloVe 100k TQ8: prefix 1.3–1.8× faster, 10-R@10 0.990 vs 0.990),
  /// else the full codes, which keep the rerank list (rerank_factor, rerank_min, qjl_prune_z). For 4-bit codes the
  /// prefix layout is the faster option (since the one-pass rescoring, at the default z and equal recall within
  /// 0.001: 1.03× siftsmall, 1.15–1.27× GloVe, 1.26× DEEP-2k, 1.37× a clustered 200k set; bench/RESULTS.md), not the
  /// default: its scan is bounded, so the rerank-list parameters do not apply to it.
  static FlatLayout recommended(const TurboQuantizer& tq);
};

class FlatScanner {
 public:
  FlatScanner(const TurboQuantizer& tq, Metric metric, const FlatLayout& layout = {});
  const FlatLayout& layout() const { return layout_; }

  const TurboQuantizer& quantizer() const { return tq_; }
  Metric metric() const { return metric_; }
  size_t size() const { return codes_.size(); }
  const FastScanCodes& scan_codes() const { return codes_; }

  /// Append n row codes (n, code_size()).
  void add(size_t n, const uint8_t* row_codes);
  void reset();
  /// Bytes held beside the row codes (blocked layout + per-vector floats).
  size_t memory_bytes() const;

  /// k-NN search. Rows are 0..size()−1; `row_codes` must be the same rows in row layout (size(), code_size()).
  /// @param queries    (nq, d) float32
  /// @param k          >= 1; results past size() are padded with label −1 and distance −FLT_MAX (IP) or
  ///                   FLT_MAX (L2), as FAISS does
  /// @param distances  (nq, k): IP estimates descending, or squared-L2 estimates ascending
  /// @param labels     (nq, k) row numbers
  void search(size_t nq, const float* queries, const uint8_t* row_codes, int k, const FlatSearchParams& params,
              float* distances, int64_t* labels, FlatSearchStats* stats = nullptr) const;

 private:
  const TurboQuantizer& tq_;
  Metric metric_;
  FlatLayout layout_;
  FastScanCodes codes_;
  // Per-row multipliers, padded with zeros to whole blocks: ‖x‖ (or ‖x‖/ρ) times 2 for L2, and −‖x‖² (L2 only).
  // Prefix layouts use mult_prefix_ (‖x‖/⟨ŷ, ŷ_s⟩, times 2 for L2) for every estimator, and slack_* = ‖e_x‖
  // (times 2 for L2) of the estimator (QJL: with the sketch's own spread added).
  std::vector<float> mult_norm_;
  std::vector<float> mult_renorm_;
  std::vector<float> mult_prefix_;
  std::vector<float> slack_mse_;
  std::vector<float> slack_renorm_;
  std::vector<float> slack_qjl_;
  std::vector<float> neg_sqnorm_;
};

}  // namespace tqsearch
