// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Exact k nearest neighbors (ground truth for `tqsearch bench`): blocked BLAS sgemm for the inner products,
/// then a per-query top-k with ties broken toward the smaller id (as the shared datasets' ground truth is).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace tqsearch::cli {

struct ExactKnnResult {
  size_t nq = 0;
  size_t k = 0;
  std::vector<int64_t> ids;      ///< (nq, k) best first; −1 past nb
  std::vector<float> distances;  ///< (nq, k): squared L2 ascending, or inner products descending
};

/// @param base      (nb, d) row-major float32
/// @param queries   (nq, d) row-major float32
/// @param inner_product  true: largest ⟨q, x⟩ first; false: smallest ‖q − x‖² first (cosine: normalize first)
/// @param on_progress    called with the number of base rows done after each block (may be empty)
ExactKnnResult exact_knn(const float* base, size_t nb, const float* queries, size_t nq, size_t d, size_t k,
                         bool inner_product, const std::function<void(size_t)>& on_progress = {});

}  // namespace tqsearch::cli
