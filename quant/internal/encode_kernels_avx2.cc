// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// AVX2 encode sums (-mavx2 -mfma; the library builds with -ffp-contract=off, so a mul followed by an add stays two
// roundings, as in encode_kernels_scalar.cc). The four rows' sums sit in the four lanes of one register.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "quant/internal/encode_kernels.h"

namespace tqsearch::internal {
namespace {

// Lane u of the result: s_u after adding the squares of x[j + u] for every step j (one row).
inline __m256d sum_squares_lanes(const float* r, int full) {
  __m256d a = _mm256_setzero_pd();
  for (int j = 0; j < full; j += 4) {
    const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(r + j));
    a = _mm256_add_pd(a, _mm256_mul_pd(v, v));
  }
  return a;
}

inline double finish_sum_squares(__m256d a, const float* r, int full, int d) {
  alignas(32) double s[4];
  _mm256_store_pd(s, a);
  for (int j = full; j < d; ++j) s[0] += double(r[j]) * r[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Centroids c[idx[j..j+3]] of a codebook with `bits` bits: up to 4 bits `tab` is the table padded to 16 entries and
// 32-byte aligned, above it is the codebook itself (gathered).
inline __m128 lookup4(const float* tab, int bits, const uint8_t* idx) {
  uint32_t w;
  std::memcpy(&w, idx, 4);
  const __m128i i = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(int(w)));
  if (bits > 4) return _mm_i32gather_ps(tab, i, 4);
  if (bits <= 2) return _mm_permutevar_ps(_mm_load_ps(tab), i);
  const __m256i i8 = _mm256_castsi128_si256(i);
  const __m128 lo = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(_mm256_load_ps(tab), i8));
  if (bits == 3) return lo;
  const __m128 hi = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(_mm256_load_ps(tab + 8), i8));
  return _mm_blendv_ps(lo, hi, _mm_castsi128_ps(_mm_slli_epi32(i, 28)));  // bit 3 of the index picks the half
}

}  // namespace

void sum_squares_rows_avx2(const float* x, size_t stride, int d, int m, double* out) {
  const int full = d / 4 * 4;
  if (m == 4) {  // four independent add chains side by side
    const float *r0 = x, *r1 = x + stride, *r2 = x + 2 * stride, *r3 = x + 3 * stride;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < full; j += 4) {
      const __m256d v0 = _mm256_cvtps_pd(_mm_loadu_ps(r0 + j)), v1 = _mm256_cvtps_pd(_mm_loadu_ps(r1 + j));
      const __m256d v2 = _mm256_cvtps_pd(_mm_loadu_ps(r2 + j)), v3 = _mm256_cvtps_pd(_mm_loadu_ps(r3 + j));
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(v0, v0));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(v1, v1));
      a2 = _mm256_add_pd(a2, _mm256_mul_pd(v2, v2));
      a3 = _mm256_add_pd(a3, _mm256_mul_pd(v3, v3));
    }
    out[0] = finish_sum_squares(a0, r0, full, d);
    out[1] = finish_sum_squares(a1, r1, full, d);
    out[2] = finish_sum_squares(a2, r2, full, d);
    out[3] = finish_sum_squares(a3, r3, full, d);
    return;
  }
  for (int v = 0; v < m; ++v) {
    const float* r = x + size_t(v) * stride;
    out[v] = finish_sum_squares(sum_squares_lanes(r, full), r, full, d);
  }
}

namespace {

// Products of rows r0..r0+3 at coordinates j..j+3, transposed: column k holds the four rows' products at j + k.
struct Columns {
  __m256d c[4];
};

inline Columns transpose(const __m256d* p) {
  const __m256d t0 = _mm256_unpacklo_pd(p[0], p[1]), t1 = _mm256_unpackhi_pd(p[0], p[1]);
  const __m256d t2 = _mm256_unpacklo_pd(p[2], p[3]), t3 = _mm256_unpackhi_pd(p[2], p[3]);
  return {{_mm256_permute2f128_pd(t0, t2, 0x20), _mm256_permute2f128_pd(t1, t3, 0x20),
           _mm256_permute2f128_pd(t0, t2, 0x31), _mm256_permute2f128_pd(t1, t3, 0x31)}};
}

// The four products of row v at j..j+3.
inline __m256d products(const RhoArgs& a, const float* lut, int bits, int v, int j) {
  const __m128 y = _mm_loadu_ps(a.y + size_t(v) * a.d + j);
  if (a.sign_c > 0) {
    const __m128 ay = _mm_andnot_ps(_mm_set1_ps(-0.0f), y);  // |y|
    return _mm256_mul_pd(_mm256_cvtps_pd(ay), _mm256_set1_pd(double(a.sign_c)));
  }
  return _mm256_mul_pd(_mm256_cvtps_pd(y), _mm256_cvtps_pd(lookup4(lut, bits, a.idx + size_t(v) * a.d + j)));
}

inline double product1(const RhoArgs& a, const float* c, int v, int j) {
  const float y = a.y[size_t(v) * a.d + j];
  if (a.sign_c > 0) return double(std::fabs(y)) * double(a.sign_c);
  return double(y) * double(c[a.idx[size_t(v) * a.d + j]]);
}

}  // namespace

void rho_rows4_avx2(const RhoArgs& a, double* out) {
  alignas(32) float tabs[2][16] = {};
  for (int k = 0; k < (1 << a.nbh) && a.nh > 0 && a.nbh <= 4; ++k) tabs[0][k] = a.ch[k];
  for (int k = 0; k < (1 << a.nbl) && a.nbl <= 4; ++k) tabs[1][k] = a.cl[k];
  __m256d acc = _mm256_setzero_pd();  // lane v: ρ of row v so far
  auto region = [&](int j0, int j1, const float* c, int bits, const float* tab) {
    const float* lut = bits <= 4 ? tab : c;  // gathers read the codebook itself
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
      __m256d p[4];
      for (int v = 0; v < 4; ++v) p[v] = products(a, lut, bits, v, j);
      const Columns col = transpose(p);
      for (int k = 0; k < 4; ++k) acc = _mm256_add_pd(acc, col.c[k]);  // coordinates in j order
    }
    if (j < j1) {
      alignas(32) double r[4];
      _mm256_store_pd(r, acc);
      for (; j < j1; ++j)
        for (int v = 0; v < 4; ++v) r[v] += product1(a, c, v, j);
      acc = _mm256_load_pd(r);
    }
  };
  if (a.sign_c > 0) {
    region(0, a.d, nullptr, 1, nullptr);
  } else {
    region(0, a.nh, a.ch, a.nbh, tabs[0]);
    region(a.nh, a.d, a.cl, a.nbl, tabs[1]);
  }
  _mm256_storeu_pd(out, acc);
}

void quantize_pack_1bit_avx2(float b, const float* y, int n, uint8_t* idx, uint8_t* code) {
  const __m256 bv = _mm256_set1_ps(b);
  const __m256i one = _mm256_set1_epi32(1);
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 gt = _mm256_cmp_ps(_mm256_loadu_ps(y + j), bv, _CMP_GT_OQ);
    code[j >> 3] = static_cast<uint8_t>(_mm256_movemask_ps(gt));
    if (idx != nullptr) {
      const __m256i bits = _mm256_and_si256(_mm256_castps_si256(gt), one);
      const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(bits), _mm256_extracti128_si256(bits, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(idx + j), _mm_packus_epi16(w, w));
    }
  }
  if (j < n) {
    unsigned last = 0;
    for (int k = j; k < n; ++k) {
      const unsigned bit = y[k] > b ? 1u : 0u;
      if (idx != nullptr) idx[k] = static_cast<uint8_t>(bit);
      last |= bit << (k - j);
    }
    code[j >> 3] = static_cast<uint8_t>(last);
  }
}

}  // namespace tqsearch::internal
