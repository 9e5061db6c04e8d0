// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// AVX2 nearest-centroid search (-mavx2 -mfma). Up to 4 bits: count boundaries below y with one compare per
// boundary and 8 coordinates per instruction. Above: SIMD binary search with gathers.
#include <immintrin.h>

#include "quant/internal/quantize.h"

namespace tqsearch::internal {
namespace {

inline void store8(__m256i v, uint8_t* out) {
  // 8 int32 in [0, 255] → 8 bytes.
  const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  const __m128i w = _mm_packus_epi32(lo, hi);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(w, w));
}

}  // namespace

void quantize_avx2(const float* bnd, int nb, const float* y, int n, uint8_t* idx) {
  int j = 0;
  if (nb <= 15) {
    __m256 b[15];
    for (int k = 0; k < nb; ++k) b[k] = _mm256_set1_ps(bnd[k]);
    for (; j + 8 <= n; j += 8) {
      const __m256 v = _mm256_loadu_ps(y + j);
      __m256i cnt = _mm256_setzero_si256();
      // A true compare is all ones (−1): subtracting it counts.
      for (int k = 0; k < nb; ++k) cnt = _mm256_sub_epi32(cnt, _mm256_castps_si256(_mm256_cmp_ps(v, b[k], _CMP_GT_OQ)));
      store8(cnt, idx + j);
    }
  } else {
    for (; j + 8 <= n; j += 8) {
      const __m256 v = _mm256_loadu_ps(y + j);
      __m256i lo = _mm256_setzero_si256();
      for (int step = (nb + 1) / 2; step >= 1; step /= 2) {
        const __m256i probe = _mm256_add_epi32(lo, _mm256_set1_epi32(step - 1));
        const __m256 bv = _mm256_i32gather_ps(bnd, probe, 4);
        const __m256i gt = _mm256_castps_si256(_mm256_cmp_ps(v, bv, _CMP_GT_OQ));
        lo = _mm256_add_epi32(lo, _mm256_and_si256(gt, _mm256_set1_epi32(step)));
      }
      store8(lo, idx + j);
    }
  }
  if (j < n) quantize_scalar(bnd, nb, y + j, n - j, idx + j);
}

}  // namespace tqsearch::internal
