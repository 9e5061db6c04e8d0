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
///   s = row_scale[i]·scale_mult·raw;  TQ codes (factors != null): s ← f_v·s with f_v = ‖x‖ (or ‖x‖/ρ when renorm);
///   L2: s ← 2·s − ‖x‖² (‖x‖² = factors.x² for codes, sqnorm[v] for raw vectors).
struct ScoreTransform {
  const float* row_scale = nullptr;  ///< (nq), null = 1; multiplied by scale_mult
  float scale_mult = 1.0f;
  const float2* factors = nullptr;   ///< (‖x‖, ρ) per vector of the shard
  const float* sqnorm = nullptr;     ///< ‖x‖² per vector (brute force L2)
  bool renorm = false;
  bool l2 = false;
};

/// For each query row i < nq of scores (ld elements per row, `len` valid from column 0, vector ids
/// id_base + column), the best K, written to out[(i·out_lists_per_row + list_offset)·K + r] (one list per row).
/// The row is cut into `segments` parts, each a separate list at list_offset + segment.
template <typename T>
void launch_select_scores(const T* scores, size_t ld, size_t len, int nq, int64_t id_base, const ScoreTransform& tf,
                          int K, int segments, Cand* out, int out_lists_per_row, int list_offset,
                          cudaStream_t stream);

/// For each row i < nq: the best K of in[i·M, i·M + M) (padding entries have id −1) → out[i·K, i·K + K), best
/// first. Long rows are merged in two levels through `workspace` (merge_workspace() candidates; may be null when
/// that is 0).
size_t merge_workspace(int nq, size_t M, int K);
void launch_merge(const Cand* in, int nq, size_t M, int K, Cand* out, Cand* workspace, cudaStream_t stream);

}  // namespace tqsearch::gpu::internal
