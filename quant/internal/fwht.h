// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Fast Walsh–Hadamard kernels. All levels compute bit-identical results: v_i ← v_i·s_i, then butterflies
/// (a, b) ← (a + b, a − b) for h = 1, 2, …, p/2 (each output of a level depends on the same two inputs in every
/// implementation, and both operations are single roundings).

#include "quant/simd_level.h"

namespace tqsearch::internal {

/// v (p) ← H·diag(s)·v, unnormalized H (fold the 1/√p into s). p a power of two.
void fwht_scaled_scalar(float* v, const float* s, int p);
void fwht_scaled_avx2(float* v, const float* s, int p);
/// v ← diag(s)·H·v (the inverse order).
void ifwht_scaled_scalar(float* v, const float* s, int p);
void ifwht_scaled_avx2(float* v, const float* s, int p);

inline void fwht_scaled(SimdLevel level, float* v, const float* s, int p) {
  if (level >= SimdLevel::kAvx2 && p >= 8) return fwht_scaled_avx2(v, s, p);
  fwht_scaled_scalar(v, s, p);
}
inline void ifwht_scaled(SimdLevel level, float* v, const float* s, int p) {
  if (level >= SimdLevel::kAvx2 && p >= 8) return ifwht_scaled_avx2(v, s, p);
  ifwht_scaled_scalar(v, s, p);
}

}  // namespace tqsearch::internal
