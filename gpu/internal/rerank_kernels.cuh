// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Rerank of scan candidates with the float estimator, and the final top-k.
///
/// Each candidate's estimate is computed by one warp in the CPU's order (TurboQuantizer::dot_rotated: products
/// Πq_j·c[idx_j] summed in 8 lanes by j mod 8, then a fixed tree; the QJL sign sum sequential), so the scores are
/// bit-identical to TurboQuantizer::inner_product on the CPU.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "gpu/internal/block_topk.cuh"
#include "gpu/internal/gpu_quantizer.cuh"

namespace tqsearch::gpu::internal {

struct RerankArgs {
  const uint8_t* row_codes = nullptr;  ///< shard row codes
  const float* rotated = nullptr;      ///< (nq, d) Πq
  const float* sketch = nullptr;       ///< (nq, d) SΠq, QJL only
  int estimator = 0;                   ///< tqsearch::Estimator value
  bool l2 = false;
  bool rerank = true;                  ///< false: keep the candidates' scan scores
};

/// cands: (nq, kc) best-first (id −1 = none). out: (nq, k) ranking scores (larger is better; L2: 2⟨q,x⟩ − ‖x‖²)
/// and shard-local ids (−1 past the candidates).
void launch_rerank_topk(const QuantView& q, const RerankArgs& a, const Cand* cands, int nq, int kc, int k,
                        Cand* out, cudaStream_t stream);

}  // namespace tqsearch::gpu::internal
