// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// AVX2 FWHT, compiled with -mavx2 -mfma. Bit-identical to fwht_scalar.cc: every level computes, for each pair, the
// same a + b and a − b of the same operands (single roundings). The in-register levels h = 1, 2, 4 compute
// fma(x, ±1, y): the product by ±1 is exact, so the one rounding of the fma is that of y ± x — the add's.
#include <immintrin.h>

#include "quant/internal/fwht.h"

namespace tqsearch::internal {
namespace {

// Levels h = 1, 2, 4 inside each 8-float register: three fma + three in-lane/cross-lane permutes.
struct InRegisterSigns {
  __m256 s1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
  __m256 s2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
  __m256 s4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
};

inline __m256 levels_1_2_4(__m256 v, const InRegisterSigns& k) {
  // h = 1: lane0 = x0 + x1, lane1 = −x1 + x0 (= x0 − x1 exactly).
  v = _mm256_fmadd_ps(v, k.s1, _mm256_permute_ps(v, 0xB1));
  v = _mm256_fmadd_ps(v, k.s2, _mm256_permute_ps(v, 0x4E));
  v = _mm256_fmadd_ps(v, k.s4, _mm256_permute2f128_ps(v, v, 0x01));
  return v;
}

template <bool kScale>
inline __m256 load_chunk(const float* v, const float* s, int i, const InRegisterSigns& k) {
  __m256 x = _mm256_loadu_ps(v + 8 * i);
  if (kScale) x = _mm256_mul_ps(x, _mm256_loadu_ps(s + 8 * i));
  return levels_1_2_4(x, k);
}

inline void butterfly(__m256& a, __m256& b) {
  const __m256 t = a;
  a = _mm256_add_ps(t, b);
  b = _mm256_sub_ps(t, b);
}

// Two levels over four registers holding the values at offsets 0, h, 2h, 3h: h, then 2h.
inline void radix4(__m256& r0, __m256& r1, __m256& r2, __m256& r3) {
  butterfly(r0, r1);
  butterfly(r2, r3);
  butterfly(r0, r2);
  butterfly(r1, r3);
}

// Three levels over eight registers holding the values at offsets i·h: h, 2h, 4h.
inline void radix8(__m256& r0, __m256& r1, __m256& r2, __m256& r3, __m256& r4, __m256& r5, __m256& r6, __m256& r7) {
  radix4(r0, r1, r2, r3);
  radix4(r4, r5, r6, r7);
  butterfly(r0, r4);
  butterfly(r1, r5);
  butterfly(r2, r6);
  butterfly(r3, r7);
}

// r_i to w + i·h.
inline void store4(float* w, int h, __m256 r0, __m256 r1, __m256 r2, __m256 r3) {
  _mm256_storeu_ps(w, r0);
  _mm256_storeu_ps(w + h, r1);
  _mm256_storeu_ps(w + 2 * h, r2);
  _mm256_storeu_ps(w + 3 * h, r3);
}

// All levels of an 8-, 16- or 32-float block in registers (after the scale when kScale).
template <int NR, bool kScale>
inline void small_block(float* v, const float* s) {
  const InRegisterSigns k;
  if (NR == 1) {
    _mm256_storeu_ps(v, load_chunk<kScale>(v, s, 0, k));
  } else if (NR == 2) {
    __m256 r0 = load_chunk<kScale>(v, s, 0, k), r1 = load_chunk<kScale>(v, s, 1, k);
    butterfly(r0, r1);
    _mm256_storeu_ps(v, r0);
    _mm256_storeu_ps(v + 8, r1);
  } else {
    __m256 r0 = load_chunk<kScale>(v, s, 0, k), r1 = load_chunk<kScale>(v, s, 1, k);
    __m256 r2 = load_chunk<kScale>(v, s, 2, k), r3 = load_chunk<kScale>(v, s, 3, k);
    radix4(r0, r1, r2, r3);
    store4(v, 8, r0, r1, r2, r3);
  }
}

// Levels h = 1 … 32 of each 64-float chunk of v[0:p) in eight registers (written out: GCC kept an array version
// on the stack). One load and one store per element for six levels.
template <bool kScale>
inline void chunks_of_64(float* v, const float* s, int p) {
  const InRegisterSigns k;
  for (int c = 0; c < p; c += 64) {
    float* w = v + c;
    const float* sc = s + c;
    __m256 r0 = load_chunk<kScale>(w, sc, 0, k), r1 = load_chunk<kScale>(w, sc, 1, k);
    __m256 r2 = load_chunk<kScale>(w, sc, 2, k), r3 = load_chunk<kScale>(w, sc, 3, k);
    __m256 r4 = load_chunk<kScale>(w, sc, 4, k), r5 = load_chunk<kScale>(w, sc, 5, k);
    __m256 r6 = load_chunk<kScale>(w, sc, 6, k), r7 = load_chunk<kScale>(w, sc, 7, k);
    radix8(r0, r1, r2, r3, r4, r5, r6, r7);  // h = 8, 16, 32
    store4(w, 8, r0, r1, r2, r3);
    store4(w + 32, 8, r4, r5, r6, r7);
  }
}

// One pass over memory for the levels h, 2h, 4h (radix 8), h, 2h (radix 4) or h (radix 2); h >= 8.
inline void pass8(float* v, int p, int h) {
  for (int i = 0; i < p; i += 8 * h) {
    for (int j = i; j < i + h; j += 8) {
      float* w = v + j;
      __m256 r0 = _mm256_loadu_ps(w), r1 = _mm256_loadu_ps(w + h);
      __m256 r2 = _mm256_loadu_ps(w + 2 * h), r3 = _mm256_loadu_ps(w + 3 * h);
      __m256 r4 = _mm256_loadu_ps(w + 4 * h), r5 = _mm256_loadu_ps(w + 5 * h);
      __m256 r6 = _mm256_loadu_ps(w + 6 * h), r7 = _mm256_loadu_ps(w + 7 * h);
      radix8(r0, r1, r2, r3, r4, r5, r6, r7);
      store4(w, h, r0, r1, r2, r3);
      store4(w + 4 * h, h, r4, r5, r6, r7);
    }
  }
}

inline void pass4(float* v, int p, int h) {
  for (int i = 0; i < p; i += 4 * h) {
    for (int j = i; j < i + h; j += 8) {
      float* w = v + j;
      __m256 r0 = _mm256_loadu_ps(w), r1 = _mm256_loadu_ps(w + h);
      __m256 r2 = _mm256_loadu_ps(w + 2 * h), r3 = _mm256_loadu_ps(w + 3 * h);
      radix4(r0, r1, r2, r3);
      store4(w, h, r0, r1, r2, r3);
    }
  }
}

inline void pass2(float* v, int p, int h) {
  for (int i = 0; i < p; i += 2 * h) {
    for (int j = i; j < i + h; j += 8) {
      __m256 a = _mm256_loadu_ps(v + j), b = _mm256_loadu_ps(v + j + h);
      butterfly(a, b);
      _mm256_storeu_ps(v + j, a);
      _mm256_storeu_ps(v + j + h, b);
    }
  }
}

// Levels h >= 64 up to p/2: as many radix-8 passes as possible, then one radix-4 or radix-2 pass (the level order
// within each element's chain is unchanged).
inline void outer_levels(float* v, int p) {
  int h = 64;
  int levels = 0;
  for (int q = h; q < p; q *= 2) ++levels;
  for (; levels >= 3 && levels != 4; levels -= 3, h *= 8) pass8(v, p, h);
  for (; levels >= 2; levels -= 2, h *= 4) pass4(v, p, h);
  if (levels == 1) pass2(v, p, h);
}

// v ← H·diag(s)·v (kScale) or H·v.
template <bool kScale>
inline void transform(float* v, const float* s, int p) {
  switch (p) {
    case 8: return small_block<1, kScale>(v, s);
    case 16: return small_block<2, kScale>(v, s);
    case 32: return small_block<4, kScale>(v, s);
    default: break;
  }
  chunks_of_64<kScale>(v, s, p);
  if (p > 64) outer_levels(v, p);
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
