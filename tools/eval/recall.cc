// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/eval/recall.h"

#include <algorithm>

#include "quant/error.h"

namespace tqsearch::eval {

namespace {
void check_tables(const NeighborTable& results, const NeighborTable& truth) {
  TQ_CHECK(results.nq == truth.nq, "recall: results have " << results.nq << " queries, ground truth has "
                                                            << truth.nq << "; they must match");
  TQ_CHECK(results.nq >= 1, "recall: no queries (nq = 0)");
  TQ_CHECK(results.k >= 1 && truth.k >= 1,
           "recall: results k = " << results.k << ", ground truth k = " << truth.k << "; both must be >= 1");
  TQ_CHECK(results.ids != nullptr && truth.ids != nullptr, "recall: null id table");
}

void check_truth_row(const NeighborTable& truth, size_t q, size_t k) {
  for (size_t j = 0; j < k; ++j) {
    TQ_CHECK(truth.ids[q * truth.k + j] >= 0, "recall: ground truth of query " << q << " has id "
                                                  << truth.ids[q * truth.k + j] << " at rank " << j
                                                  << "; ground-truth ids must be >= 0");
  }
}
}  // namespace

double recall1_at_k(const NeighborTable& results, const NeighborTable& truth, size_t k) {
  check_tables(results, truth);
  TQ_CHECK(k >= 1 && k <= results.k, "recall1@k: k = " << k << " must be in 1.." << results.k << " (results k)");
  size_t hits = 0;
  for (size_t q = 0; q < results.nq; ++q) {
    check_truth_row(truth, q, 1);
    const int64_t nn = truth.ids[q * truth.k];
    const int64_t* r = results.ids + q * results.k;
    hits += std::find(r, r + k, nn) != r + k;
  }
  return double(hits) / double(results.nq);
}

double recall_at_1(const NeighborTable& results, const NeighborTable& truth) { return recall1_at_k(results, truth, 1); }

double k_recall_at_k(const NeighborTable& results, const NeighborTable& truth, size_t k) {
  check_tables(results, truth);
  TQ_CHECK(k >= 1 && k <= results.k && k <= truth.k, "k-recall@k: k = " << k << " must be in 1.."
                                                          << std::min(results.k, truth.k)
                                                          << " (results k = " << results.k
                                                          << ", ground truth k = " << truth.k << ")");
  size_t hits = 0;
  std::vector<int64_t> t, r;
  for (size_t q = 0; q < results.nq; ++q) {
    check_truth_row(truth, q, k);
    t.assign(truth.ids + q * truth.k, truth.ids + q * truth.k + k);
    r.assign(results.ids + q * results.k, results.ids + q * results.k + k);
    std::sort(t.begin(), t.end());
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());  // a repeated id counts once
    t.erase(std::unique(t.begin(), t.end()), t.end());
    size_t i = 0, j = 0;
    while (i < t.size() && j < r.size()) {
      if (t[i] < r[j]) {
        ++i;
      } else if (r[j] < t[i]) {
        ++j;
      } else {
        ++hits, ++i, ++j;
      }
    }
  }
  return double(hits) / (double(results.nq) * double(k));
}

RecallSummary summarize_recall(const NeighborTable& results, const NeighborTable& truth,
                               const std::vector<size_t>& ks) {
  RecallSummary s;
  s.recall_at_1 = recall_at_1(results, truth);
  for (size_t k : ks) {
    if (k >= 1 && k <= results.k && k <= truth.k) s.k_recall_at_k[k] = k_recall_at_k(results, truth, k);
  }
  for (size_t k = 1; k <= 64 && k <= results.k; k *= 2) s.recall1_at_k[k] = recall1_at_k(results, truth, k);
  return s;
}

}  // namespace tqsearch::eval
