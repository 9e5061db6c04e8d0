// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Recall of k-NN results against exact ground truth — the one definition shared by `tqsearch bench`, the
/// library tests and the benchmarks, so that their figures can be compared (and are, in tests/tools).
///
/// For nq queries, results R and ground truth T are (nq, k) row-major ids, best first; -1 marks "no result".
///   recall@1         = fraction of queries whose first result is the true nearest neighbor T[q][0]
///   k-recall@k       = mean over queries of |R[q][0..k) ∩ T[q][0..k)| / k      (10-recall@10, 100-recall@100)
///   recall1@k (1-recall@k) = fraction of queries whose true nearest neighbor T[q][0] is in R[q][0..k)
/// recall@1 = k-recall@k at k = 1 = recall1@k at k = 1.

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace tqsearch::eval {

/// (nq, k) row-major ids, best first.
struct NeighborTable {
  const int64_t* ids = nullptr;
  size_t nq = 0;
  size_t k = 0;
};

/// Fraction of queries whose first result is the true nearest neighbor. Requires results.k ≥ 1, truth.k ≥ 1.
double recall_at_1(const NeighborTable& results, const NeighborTable& truth);

/// Mean |top-k ∩ true top-k| / k. Requires 1 ≤ k ≤ results.k and k ≤ truth.k; truth ids must be ≥ 0.
double k_recall_at_k(const NeighborTable& results, const NeighborTable& truth, size_t k);

/// Fraction of queries whose true nearest neighbor is among the first k results. Requires 1 ≤ k ≤ results.k.
double recall1_at_k(const NeighborTable& results, const NeighborTable& truth, size_t k);

/// Everything `tqsearch bench` reports for one run.
struct RecallSummary {
  double recall_at_1 = 0;
  std::map<size_t, double> k_recall_at_k;  ///< for each requested k ≤ min(results.k, truth.k)
  std::map<size_t, double> recall1_at_k;   ///< k = 1, 2, 4, …, ≤ min(64, results.k)
};

/// @param ks  the k of the k-recall@k figures (those > results.k or truth.k are left out)
RecallSummary summarize_recall(const NeighborTable& results, const NeighborTable& truth,
                               const std::vector<size_t>& ks);

}  // namespace tqsearch::eval
