// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// AVX2 FWHT, compiled with -mavx2 -mfma. Bit-identical to fwht_scalar.cc: the in-register levels compute
// s·x + y with s = ±1 (exact product, one rounding), i.e. exactly a + b or a − b.
#include <immintrin.h>

#include "quant/internal/fwht.h"

namespace tqsearch::internal {
namespace {

// Levels h = 1, 2, 4 inside each 8-float register.
inline __m256 levels_1_2_4(__m256 v) {
  const __m256 sg1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
  const __m256 sg2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
  const __m256 sg4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
  // h = 1: lane pairs (0,1): lane0 = x0 + x1, lane1 = x0 − x1 = −x1 + x0.
  v = _mm256_add_ps(_mm256_mul_ps(v, sg1), _mm256_permute_ps(v, 0xB1));
  v = _mm256_add_ps(_mm256_mul_ps(v, sg2), _mm256_permute_ps(v, 0x4E));
  v = _mm256_add_ps(_mm256_mul_ps(v, sg4), _mm256_permute2f128_ps(v, v, 0x01));
  return v;
}

inline void butterflies(float* v, int p) {
  for (int i = 0; i < p; i += 8) _mm256_storeu_ps(v + i, levels_1_2_4(_mm256_loadu_ps(v + i)));
  int h = 8;
  // Two levels at a time (h, 2h) on four registers where possible: fewer passes over memory.
  for (; 4 * h <= p; h *= 4) {
    for (int i = 0; i < p; i += 4 * h) {
      for (int j = i; j < i + h; j += 8) {
        __m256 a = _mm256_loadu_ps(v + j), b = _mm256_loadu_ps(v + j + h);
        __m256 c = _mm256_loadu_ps(v + j + 2 * h), d = _mm256_loadu_ps(v + j + 3 * h);
        __m256 a1 = _mm256_add_ps(a, b), b1 = _mm256_sub_ps(a, b);
        __m256 c1 = _mm256_add_ps(c, d), d1 = _mm256_sub_ps(c, d);
        _mm256_storeu_ps(v + j, _mm256_add_ps(a1, c1));
        _mm256_storeu_ps(v + j + 2 * h, _mm256_sub_ps(a1, c1));
        _mm256_storeu_ps(v + j + h, _mm256_add_ps(b1, d1));
        _mm256_storeu_ps(v + j + 3 * h, _mm256_sub_ps(b1, d1));
      }
    }
  }
  for (; h < p; h *= 2) {
    for (int i = 0; i < p; i += 2 * h) {
      for (int j = i; j < i + h; j += 8) {
        __m256 a = _mm256_loadu_ps(v + j), b = _mm256_loadu_ps(v + j + h);
        _mm256_storeu_ps(v + j, _mm256_add_ps(a, b));
        _mm256_storeu_ps(v + j + h, _mm256_sub_ps(a, b));
      }
    }
  }
}

inline void scale(float* v, const float* s, int p) {
  for (int i = 0; i < p; i += 8) _mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), _mm256_loadu_ps(s + i)));
}

}  // namespace

void fwht_scaled_avx2(float* v, const float* s, int p) {
  scale(v, s, p);
  butterflies(v, p);
}

void ifwht_scaled_avx2(float* v, const float* s, int p) {
  butterflies(v, p);
  scale(v, s, p);
}

}  // namespace tqsearch::internal
