// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Top-K selection launchers: over a (nq × L) score matrix written by a GEMM (fp16 or fp32), and merging
/// candidate lists. Scores are "larger is better" internally (IP estimate, or 2⟨q,x⟩ − ‖x‖² for L2).

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "gpu/internal/block_topk.cuh"

namespace tqsearch::gpu::internal {

/// Largest K the selection kernels accept.
constexpr int kMaxSelectK = 2048;

/// How a raw GEMM score of (query i, vector v) becomes a ranking score.
///   rs = row_scale[i]·scale_mult;  TQ codes: s = (factor[v]·rs)·raw, L2 s = (factor[v]·2rs)·raw − sqnorm[v] (one
///   rounding, fmaf: the fused scan's arithmetic);  no factor: s = rs·raw, L2 s ← 2·s − sqnorm[v].
struct ScoreTransform {
  const float* row_scale = nullptr;  ///< (nq), null = 1; multiplied by scale_mult
  float scale_mult = 1.0f;
  const float* factor = nullptr;     ///< TQ codes: ‖x‖ (or ‖x‖/ρ) per vector of the shard; null for raw vectors
  const float* sqnorm = nullptr;     ///< ‖x‖² per vector (L2)
  bool l2 = false;
  /// (nq) or null; int32 scores only: the score's integer is 2·raw + row_offset[row] (nibble-mode tables, whose
  /// values stand for v + ½), computed exactly before the conversion to float.
  const int* row_offset = nullptr;
};

/// For each query row i < nq of scores (ld elements per row, `len` valid from column 0, vector ids
/// id_base + column), the best K, written to out[(i·out_lists_per_row + list_offset)·K + r] (one list per row).
/// The row is cut into `segments` parts, each a separate list at list_offset + segment.
template <typename T>
void launch_select_scores(const T* scores, size_t ld, size_t len, int nq, int64_t id_base, const ScoreTransform& tf,
                          int K, int segments, Cand* out, int out_lists_per_row, int list_offset,
                          cudaStream_t stream);

/// For each row i < nq holding `nlists` (≤ 16384) lists of `len` candidates, each list sorted best first (padding
/// entries have id −1): the best K → out[i·K, i·K + K), best first. One block per row; it reads each list only
/// down to the first entry that cannot beat the running K-th best.
void launch_merge(const Cand* in, int nq, int nlists, int len, int K, Cand* out, cudaStream_t stream);

}  // namespace tqsearch::gpu::internal
