// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Exact refine stage (as faiss::IndexRefineFlat on the CPU): re-score candidates against the raw vectors kept in
/// device memory (fp16 or fp32) with float arithmetic, and keep the best k.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "gpu/internal/block_topk.cuh"

namespace tqsearch::gpu::internal {

struct RefineArgs {
  const void* vectors = nullptr;  ///< (n, d) raw vectors of the shard, __half or float
  bool fp16 = false;
  int d = 0;
  const float* queries = nullptr;  ///< (nq, d) float32 queries as given by the caller
  bool l2 = false;                 ///< score −‖q − x‖² instead of ⟨q, x⟩
};

/// cands: row i at cands + i·ld (ld ≥ kin), its first kin entries are re-scored; shard-local ids (−1 = none). out: (nq, k) best first: ⟨q, x⟩, or −‖q − x‖² for L2 (larger is
/// better), ids −1 past the candidates. Sums in float, each lane over a fixed coordinate subset, then a fixed
/// shuffle tree: deterministic.
void launch_refine_topk(const RefineArgs& a, const Cand* cands, int ld, int nq, int kin, int k, Cand* out,
                        cudaStream_t stream);

/// Stores rows as the refine stage keeps them: fp32 copy, or fp16 (round to nearest). Rows whose values do not
/// fit fp16 (|x| > 65504) set *bad_row (atomicMin) to row_base + their index in x (initialize it to ~0).
/// @param x    (n, d) float32 device rows   @param dst  (n, d) __half or float device rows
void launch_store_raw(const float* x, size_t n, int d, bool fp16, void* dst, unsigned long long* bad_row,
                      size_t row_base, cudaStream_t stream);

}  // namespace tqsearch::gpu::internal
