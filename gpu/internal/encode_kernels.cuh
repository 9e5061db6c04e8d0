// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// GPU encode (TurboQuant Alg. 1 plus the renorm and QJL options) and query preparation.
///
/// Bit-exactness with TurboQuantizer::encode: the rotation reproduces HadamardRotation's arithmetic exactly
/// (v·(s/√p) then butterflies (a+b, a−b), single roundings, same order); x·(1/‖x‖) and y − ŷ are single
/// roundings as on the CPU. The CPU sums ‖x‖², ρ and γ² sequentially in double; the GPU sums the same exact
/// double products in a fixed tree order. The two double sums differ by a few double ulps at most, so the float
/// results (‖x‖, 1/‖x‖, ρ, γ) differ only when the exact value lies within ~1e-15 (relative) of a float rounding
/// midpoint: probability ≈ 1e-7 per vector. Such a vector then differs by one float ulp in that factor, and its
/// indices only where a rotated coordinate lies within an ulp of a codebook boundary.

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "gpu/internal/gpu_quantizer.cuh"

namespace tqsearch::gpu::internal {

/// Where the encode of rows [0, n) of one call writes.
struct EncodeTarget {
  uint8_t* row_codes = nullptr;  ///< (n, code_size) for these rows
  uint4* scan_tiles = nullptr;   ///< the shard's scan tiles (base)
  float* norm = nullptr;         ///< the shard's ‖x‖ (as stored) per vector (base)
  float* renorm = nullptr;       ///< ‖x‖/ρ per vector (base)
  float* sqnorm = nullptr;       ///< ‖x‖² per vector (base)
  size_t first = 0;              ///< shard-local index of row 0 of this call
  /// Encode only: set (atomicMin) to the shard-local index of a row whose norm overflows float. Not null.
  unsigned long long* bad_norm_row = nullptr;
};

/// First row (in [0, n)) with a non-finite value, or −1. Synchronizes `stream`.
int64_t find_nonfinite_rows(const float* x, size_t n, int d, cudaStream_t stream);

/// Encode n rows of x (device, (n, d) float32, all finite) into row codes, scan layout and factors.
void launch_encode(const QuantView& q, const float* x, size_t n, const EncodeTarget& out, cudaStream_t stream);

/// Build scan layout and factors from row codes already on the device (add_codes).
/// @param row_codes  (n, code_size) device, the rows of this call
void launch_layout_from_codes(const QuantView& q, const uint8_t* row_codes, size_t n, const EncodeTarget& out,
                              cudaStream_t stream);

/// Query preparation for nq queries (device (nq, d) float32; a query with a non-finite value gets qnorm NaN):
///   rotated (nq, d) = Π·q bit-identical to the CPU; qnorm (nq) = ‖q‖; q8 (nq, dp) int8 and qscale (nq) with
///   Πq ≈ qscale·q8; qsum (nq) = Σ of each row's q8 in nibble mode (may be null; the scan's ½-offset term);
///   sketch (nq, d) = S·Π·q for structured QJL (may be null).
void launch_prepare_queries(const QuantView& q, const float* queries, size_t nq, float* rotated, float* qnorm,
                            int8_t* q8, float* qscale, int* qsum, float* sketch, cudaStream_t stream);

/// Bytes of dynamic shared memory and vectors per block the encode kernel uses for this quantizer.
struct EncodeShape {
  int vectors_per_block = 0;
  size_t smem_bytes = 0;
};
EncodeShape encode_shape(const QuantView& q);

}  // namespace tqsearch::gpu::internal
