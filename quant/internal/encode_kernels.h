// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Per-row sums of TurboQuantizer::encode (arXiv 2504.19874, Alg. 1 plus the renorm factor), four rows at a time.
/// Every level returns the same bits: each sum is the same chain of double operations in the same order (products
/// of two floats are exact in double), only the four rows' chains run side by side.

#include <cstddef>
#include <cstdint>

#include "quant/simd_level.h"

namespace tqsearch::internal {

/// ‖x_v‖² for the m <= 4 rows x + v·stride as encode defines it: four double partial sums s_u over the j ≡ u (mod 4)
/// of j < d − d mod 4 (each in increasing j), then the last d mod 4 coordinates added to s_0 in order, then
/// (s_0 + s_1) + (s_2 + s_3). @param out (m)
void sum_squares_rows_scalar(const float* x, size_t stride, int d, int m, double* out);
void sum_squares_rows_avx2(const float* x, size_t stride, int d, int m, double* out);

/// ρ_v = Σ_j double(y_v[j])·double(c(j)[idx_v[j]]) for 4 rows (y_v = y + v·d, idx_v = idx + v·d), each a
/// sequential sum over j = 0, 1, …, d−1 from +0; c(j) = ch for j < nh, cl after. nbh, nbl: bits of the two codebooks
/// (1..8). With sign_c > 0 (1-bit codes whose centroids are exactly ±sign_c and whose boundary is 0, so that
/// idx_j = (y_j > 0)) idx is not read: each product is double(|y_j|)·sign_c, the same double (a ±0 product, at
/// y_j = ±0, leaves every such sum unchanged).
struct RhoArgs {
  const float* y = nullptr;
  const uint8_t* idx = nullptr;
  int d = 0;
  int nh = 0;
  const float* ch = nullptr;
  int nbh = 0;
  const float* cl = nullptr;
  int nbl = 0;
  float sign_c = 0;
};
/// @param out (4)
void rho_rows4_scalar(const RhoArgs& a, double* out);
void rho_rows4_avx2(const RhoArgs& a, double* out);

/// 1-bit nearest-centroid indices and their packed row code at once: idx_j = (y_j > b), code bit j (LSB first) =
/// idx_j, padding bits of the last byte zero. @param idx (n), or null when only the code is wanted
/// @param code (ceil(n/8))
void quantize_pack_1bit_scalar(float b, const float* y, int n, uint8_t* idx, uint8_t* code);
void quantize_pack_1bit_avx2(float b, const float* y, int n, uint8_t* idx, uint8_t* code);

inline void sum_squares_rows(SimdLevel level, const float* x, size_t stride, int d, int m, double* out) {
  if (level >= SimdLevel::kAvx2) return sum_squares_rows_avx2(x, stride, d, m, out);
  sum_squares_rows_scalar(x, stride, d, m, out);
}
inline void rho_rows4(SimdLevel level, const RhoArgs& a, double* out) {
  if (level >= SimdLevel::kAvx2) return rho_rows4_avx2(a, out);
  rho_rows4_scalar(a, out);
}
inline void quantize_pack_1bit(SimdLevel level, float b, const float* y, int n, uint8_t* idx, uint8_t* code) {
  if (level >= SimdLevel::kAvx2) return quantize_pack_1bit_avx2(b, y, n, idx, code);
  quantize_pack_1bit_scalar(b, y, n, idx, code);
}

}  // namespace tqsearch::internal
