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

/// IEEE binary16 bits of f, round to nearest even: the integer algorithm of quant/internal/float16.cc, so that
/// fp16 norms are the CPU's bytes. (Integer-only on purpose: storing the low byte of a cvt.rn.f16.f32 result
/// through `st.shared.u8` was seen to store the converted value instead of its bits with nvcc 13.0.)
__device__ inline uint16_t float_to_half_bits(float f) {
  const uint32_t x = __float_as_uint(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  const int e = int(exp) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (uint32_t(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

/// Exact value of IEEE binary16 bits (quant/internal/float16.cc's half_to_float).
__device__ inline float half_bits_to_float(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400u));
      x = sign | (uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  return __uint_as_float(x);
}

/// PTX prmt in its default mode: selector nibble bits 0–2 pick one of the 8 bytes of {b, a}, bit 3 replicates
/// the picked byte's sign bit.
__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}

/// Nibble-mode word (8 coordinates, sign/magnitude codes, nibble_layout.h) → two words of 4 int8 values each
/// (coordinates 0–3 and 4–7): one byte permute of the magnitude table t0, t1 and one XOR with the sign mask per 4.
__device__ __forceinline__ void dequant_word(uint32_t w, uint32_t t0, uint32_t t1, uint32_t& lo4, uint32_t& hi4) {
  const uint32_t sa = w & 0x7777u;
  const uint32_t sb = (w >> 16) & 0x7777u;
  const uint32_t ma = prmt(w, 0u, 0xBA98u);       // byte i = 0xFF where s_i (bit 8i+7) is set
  const uint32_t mb = prmt(w << 4, 0u, 0xBA98u);  // s_{4+i} (bit 8i+3)
  lo4 = prmt(t0, t1, sa) ^ ma;
  hi4 = prmt(t0, t1, sb) ^ mb;
}

}  // namespace tqsearch::gpu::internal
