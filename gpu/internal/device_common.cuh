// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Small device helpers shared by the kernels (warp reductions, byte permutes, the nibble dequantization).

#include <cuda_runtime.h>

#include <cstdint>

#include "gpu/internal/nibble_layout.h"

namespace tqsearch::gpu::internal {

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/// PTX prmt in its default mode: selector nibble bits 0–2 pick one of the 8 bytes of {b, a}, bit 3 replicates
/// the picked byte's sign bit.
__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}

/// (a & ~m) | (b & m)
__device__ __forceinline__ uint32_t select_bytes(uint32_t a, uint32_t b, uint32_t m) {
  return (a & ~m) | (b & m);  // one LOP3
}

/// Nibble-mode word (8 coordinates, layout in gpu_quantizer.cuh) → two words of 4 int8 values each
/// (coordinates 0–3 and 4–7), through the 16-entry table t0..t3.
__device__ __forceinline__ void dequant_word(uint32_t w, uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3,
                                             uint32_t& lo4, uint32_t& hi4) {
  const uint32_t sa = w & 0x7777u;
  const uint32_t sb = (w >> 16) & 0x7777u;
  const uint32_t ma = prmt(w, 0u, 0xBA98u);       // byte i = 0xFF where h_i (bit 8i+7) is set
  const uint32_t mb = prmt(w << 4, 0u, 0xBA98u);  // h_{4+i} (bit 8i+3)
  lo4 = select_bytes(prmt(t0, t1, sa), prmt(t2, t3, sa), ma);
  hi4 = select_bytes(prmt(t0, t1, sb), prmt(t2, t3, sb), mb);
}

}  // namespace tqsearch::gpu::internal
