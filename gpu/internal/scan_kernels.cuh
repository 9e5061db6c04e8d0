// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Scans of the GPU scan layout (gpu_quantizer.cuh).
///  - Fused scan for small batches: each warp streams a tile (one coalesced 16-byte load per lane and chunk),
///    dequantizes through the int8 table (byte permutes) and feeds a block top-K per query; each block writes its
///    K best per query. Nibble mode multiplies on int8 tensor cores (mma m16n8k32, 16 or 32 queries per pass);
///    byte mode uses dp4a (up to 32 queries per pass).
///  - Dequantization of tiles to int8 rows for the GEMM path (cuBLAS int8 GEMM, int32 scores).

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "gpu/internal/block_topk.cuh"
#include "gpu/internal/gpu_quantizer.cuh"

namespace tqsearch::gpu::internal {

struct FusedScanArgs {
  const uint4* tiles = nullptr;
  size_t n = 0;                    ///< vectors in the shard
  const int8_t* q8 = nullptr;      ///< (nq, dp)
  const float* qscale = nullptr;   ///< (nq): Πq ≈ qscale·q8, so ⟨Πq, ŷ⟩ ≈ qscale·tscale·acc (byte mode)
  const int* qsum = nullptr;       ///< (nq) Σ q8: nibble mode ⟨Πq, ŷ⟩ ≈ qscale·tscale·(2·acc + qsum)/2
  const float* factor = nullptr;   ///< (n) ‖x‖, or ‖x‖/ρ for the renorm estimator
  const float* sqnorm = nullptr;   ///< (n) ‖x‖² (L2)
  bool l2 = false;
  int nq = 0;                      ///< queries in this pass (≤ the kernel's batch)
  int K = 0;
};

/// Plan of a fused scan pass: queries per pass (template batch), blocks, shared memory.
struct FusedScanPlan {
  int batch = 0;       ///< queries per kernel launch (nibble: 1..32; byte: 1, 2, 4, 8, 16 or 32)
  int blocks = 0;      ///< grid size; the kernel writes blocks·K candidates per query
  int B = 0;           ///< top-K buffer per query
  int ldq = 0;         ///< shared-memory row stride of the int8 queries
  size_t smem = 0;
};

FusedScanPlan plan_fused_scan(const QuantView& q, size_t n, int nq, int K);

/// Whether a fused scan block for K candidates fits the current device's shared memory (large d: the int8 query
/// rows alone take 16·(dp + 16) bytes); otherwise the automatic path choice takes the GEMM path.
bool fused_scan_fits(const QuantView& q, int K);

/// out: (args.nq, plan.blocks·K) candidates, row-major per query.
void launch_fused_scan(const QuantView& q, const FusedScanPlan& plan, const FusedScanArgs& args, Cand* out,
                       cudaStream_t stream);

/// Rows [v0, v0 + count) of the scan layout → int8 (count, dp) row-major: the values the fused scan multiplies,
/// so an int8 GEMM (int32 accumulation) against the int8 queries gives the fused scan's integer dot products
/// (nibble mode: before the ½-offset term, ScoreTransform::row_offset).
void launch_dequant_int8(const QuantView& q, const uint4* tiles, size_t v0, size_t count, int8_t* out,
                         cudaStream_t stream);

}  // namespace tqsearch::gpu::internal
