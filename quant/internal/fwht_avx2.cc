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

// All levels h < 8·NR of an (8·NR)-float chunk in NR registers, after the scale v·s when kScale: one load and one
// store per element instead of one pass per level pair. NR in {1, 2, 4, 8} (8 data registers: no spills).
template <int NR, bool kScale>
inline void chunk_in_registers(float* v, const float* s) {
  __m256 r[NR];
  for (int i = 0; i < NR; ++i) {
    __m256 x = _mm256_loadu_ps(v + 8 * i);
    if (kScale) x = _mm256_mul_ps(x, _mm256_loadu_ps(s + 8 * i));
    r[i] = levels_1_2_4(x);
  }
  for (int hr = 1; hr < NR; hr *= 2) {  // h = 8·hr
    for (int i = 0; i < NR; i += 2 * hr) {
      for (int j = i; j < i + hr; ++j) {
        const __m256 a = r[j], b = r[j + hr];
        r[j] = _mm256_add_ps(a, b);
        r[j + hr] = _mm256_sub_ps(a, b);
      }
    }
  }
  for (int i = 0; i < NR; ++i) _mm256_storeu_ps(v + 8 * i, r[i]);
}

// Levels h >= h0 (h0 a power of two >= 8) in passes over memory, two levels per pass where possible.
inline void outer_levels(float* v, int p, int h) {
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

// v ← H·diag(s)·v (kScale) or H·v. Every level computes the same a + b / a − b of the same operands as the
// scalar reference; only the grouping of levels into passes differs, so the result is bit-identical.
template <bool kScale>
inline void transform(float* v, const float* s, int p) {
  switch (p) {
    case 8: return chunk_in_registers<1, kScale>(v, s);
    case 16: return chunk_in_registers<2, kScale>(v, s);
    case 32: return chunk_in_registers<4, kScale>(v, s);
    default: break;
  }
  for (int i = 0; i < p; i += 64) chunk_in_registers<8, kScale>(v + i, s + i);
  outer_levels(v, p, 64);
}

inline void scale(float* v, const float* s, int p) {
  for (int i = 0; i < p; i += 8) _mm256_storeu_ps(v + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), _mm256_loadu_ps(s + i)));
}

}  // namespace

void fwht_scaled_avx2(float* v, const float* s, int p) { transform<true>(v, s, p); }

void ifwht_scaled_avx2(float* v, const float* s, int p) {
  transform<false>(v, s, p);
  scale(v, s, p);
}

}  // namespace tqsearch::internal
