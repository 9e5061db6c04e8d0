// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "tools/cli/exact_knn.h"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "quant/error.h"

namespace tqsearch::cli {

namespace {
constexpr size_t kBaseBlock = 8192;
constexpr size_t kQueryBlock = 1024;

/// (key, id) with smaller = better: key is the squared L2 distance, or minus the inner product.
using Entry = std::pair<float, int64_t>;
}  // namespace

ExactKnnResult exact_knn(const float* base, size_t nb, const float* queries, size_t nq, size_t d, size_t k,
                         bool inner_product, const std::function<void(size_t)>& on_progress) {
  TQ_CHECK(nb >= 1 && nq >= 1 && d >= 1, "exact k-NN: empty input (nb = " << nb << ", nq = " << nq << ", d = " << d << ")");
  TQ_CHECK(k >= 1, "exact k-NN: k must be >= 1, got " << k);
  std::vector<float> base_norms(inner_product ? 0 : nb);
  if (!inner_product) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < int64_t(nb); ++i) {
      const float* x = base + size_t(i) * d;
      double s = 0;
      for (size_t j = 0; j < d; ++j) s += double(x[j]) * x[j];
      base_norms[size_t(i)] = float(s);
    }
  }
  // Max-heaps of the best k so far (worst on top), one per query.
  std::vector<std::vector<Entry>> heaps(nq);
  for (auto& h : heaps) h.reserve(k);
  const size_t qb_max = std::min(nq, kQueryBlock), bb_max = std::min(nb, kBaseBlock);
  std::vector<float> ip(qb_max * bb_max);
  for (size_t b0 = 0; b0 < nb; b0 += kBaseBlock) {
    const size_t bb = std::min(kBaseBlock, nb - b0);
    for (size_t q0 = 0; q0 < nq; q0 += kQueryBlock) {
      const size_t qb = std::min(kQueryBlock, nq - q0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(qb), int(bb), int(d), 1.0f, queries + q0 * d, int(d),
                  base + b0 * d, int(d), 0.0f, ip.data(), int(bb));
#pragma omp parallel for schedule(dynamic, 16)
      for (int64_t qi = 0; qi < int64_t(qb); ++qi) {
        auto& heap = heaps[q0 + size_t(qi)];
        const float* row = ip.data() + size_t(qi) * bb;
        for (size_t j = 0; j < bb; ++j) {
          const float key = inner_product ? -row[j] : base_norms[b0 + j] - 2 * row[j];
          const Entry e{key, int64_t(b0 + j)};
          if (heap.size() < k) {
            heap.push_back(e);
            std::push_heap(heap.begin(), heap.end());
          } else if (e < heap.front()) {
            std::pop_heap(heap.begin(), heap.end());
            heap.back() = e;
            std::push_heap(heap.begin(), heap.end());
          }
        }
      }
    }
    if (on_progress) on_progress(b0 + bb);
  }
  ExactKnnResult r;
  r.nq = nq;
  r.k = k;
  r.ids.assign(nq * k, -1);
  r.distances.assign(nq * k, inner_product ? -std::numeric_limits<float>::max() : std::numeric_limits<float>::max());
#pragma omp parallel for schedule(static)
  for (int64_t qi = 0; qi < int64_t(nq); ++qi) {
    auto& heap = heaps[size_t(qi)];
    std::sort_heap(heap.begin(), heap.end());  // ascending: best first
    double qn = 0;
    if (!inner_product) {
      const float* q = queries + size_t(qi) * d;
      for (size_t j = 0; j < d; ++j) qn += double(q[j]) * q[j];
    }
    for (size_t j = 0; j < heap.size(); ++j) {
      r.ids[size_t(qi) * k + j] = heap[j].second;
      r.distances[size_t(qi) * k + j] = inner_product ? -heap[j].first : std::max(0.0f, float(heap[j].first + qn));
    }
  }
  return r;
}

}  // namespace tqsearch::cli
