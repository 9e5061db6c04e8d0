// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Nearest-centroid search of one codebook over many coordinates: idx_j = #{k : y_j > b_k}, the index of the
/// Lloyd–Max cell of y_j (ties to the lower cell). Integer results, so every level is exact by construction.

#include <cstdint>

#include "quant/simd_level.h"

namespace tqsearch::internal {

/// @param bnd  (nb) increasing cell boundaries, nb = 2^bits − 1, bits in 1..8
/// @param y    (n) coordinates
/// @param idx  (n) output indices
void quantize_scalar(const float* bnd, int nb, const float* y, int n, uint8_t* idx);
void quantize_avx2(const float* bnd, int nb, const float* y, int n, uint8_t* idx);

inline void quantize(SimdLevel level, const float* bnd, int nb, const float* y, int n, uint8_t* idx) {
  if (level >= SimdLevel::kAvx2) return quantize_avx2(bnd, nb, y, n, idx);
  quantize_scalar(bnd, nb, y, n, idx);
}

}  // namespace tqsearch::internal
