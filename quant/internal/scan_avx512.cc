// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// AVX-512 (F, BW, VL) nibble scan kernel: the AVX2 scheme on 512-bit registers, four groups per load (one per
// 128-bit lane); an odd trailing pair of groups is done on 256-bit registers. Same uint16 pair trick and flush
// bound. The 8-bit path has no AVX-512 kernel of its own: the AVX2 one serves that level.
#include <immintrin.h>

#include <algorithm>

#include "quant/fast_scan_codes.h"

namespace tqsearch::internal {
namespace {

// Widen the per-lane uint16 sums (A: even + 256·odd bytes, B: odd bytes) of 16 vectors and add every lane.
inline void flush512(__m512i a, __m512i b, __m256i* t) {
  const __m512i even = _mm512_sub_epi16(a, _mm512_slli_epi16(b, 8));
  const __m512i lo8 = _mm512_unpacklo_epi16(even, b);  // lane l: vectors 0..7 of group 4p+l
  const __m512i hi8 = _mm512_unpackhi_epi16(even, b);  // lane l: vectors 8..15
  auto lanes_sum = [](__m512i x) {
    // 16-bit → 32-bit for lanes (0,1) and (2,3), then add the halves: [lane0+lane2 | lane1+lane3], then fold.
    const __m512i w01 = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(x));
    const __m512i w23 = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(x, 1));
    const __m512i s = _mm512_add_epi32(w01, w23);
    return _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
  };
  t[0] = _mm256_add_epi32(t[0], lanes_sum(lo8));
  t[1] = _mm256_add_epi32(t[1], lanes_sum(hi8));
}

inline void flush256(__m256i a, __m256i b, __m256i* t) {
  const __m256i even = _mm256_sub_epi16(a, _mm256_slli_epi16(b, 8));
  const __m256i lo8 = _mm256_unpacklo_epi16(even, b);
  const __m256i hi8 = _mm256_unpackhi_epi16(even, b);
  t[0] = _mm256_add_epi32(t[0], _mm256_add_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(lo8)),
                                                 _mm256_cvtepu16_epi32(_mm256_extracti128_si256(lo8, 1))));
  t[1] = _mm256_add_epi32(t[1], _mm256_add_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(hi8)),
                                                 _mm256_cvtepu16_epi32(_mm256_extracti128_si256(hi8, 1))));
}

template <int NQ>
void nibbles(const uint8_t* blocks, size_t nblocks, int g2, const uint8_t* const* luts, int32_t* acc,
             size_t acc_stride) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const int npairs = g2 / 2;
  const int nquads = npairs / 2;
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = blocks + b * size_t(g2) * 16;
    __m256i tot[NQ][4];
    for (int q = 0; q < NQ; ++q)
      for (int i = 0; i < 4; ++i) tot[q][i] = _mm256_setzero_si256();
    for (int p0 = 0; p0 < nquads; p0 += 256) {
      const int p1 = std::min(nquads, p0 + 256);
      __m512i aA[NQ], aB[NQ], bA[NQ], bB[NQ];
      for (int q = 0; q < NQ; ++q) aA[q] = aB[q] = bA[q] = bB[q] = _mm512_setzero_si512();
      for (int p = p0; p < p1; ++p) {
        const __m512i c = _mm512_loadu_si512(blk + size_t(p) * 64);
        const __m512i lo = _mm512_and_si512(c, m4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), m4);
        for (int q = 0; q < NQ; ++q) {
          const __m512i L = _mm512_loadu_si512(luts[q] + size_t(p) * 64);
          const __m512i ra = _mm512_shuffle_epi8(L, lo);
          const __m512i rb = _mm512_shuffle_epi8(L, hi);
          aA[q] = _mm512_add_epi16(aA[q], ra);
          aB[q] = _mm512_add_epi16(aB[q], _mm512_srli_epi16(ra, 8));
          bA[q] = _mm512_add_epi16(bA[q], rb);
          bB[q] = _mm512_add_epi16(bB[q], _mm512_srli_epi16(rb, 8));
        }
      }
      for (int q = 0; q < NQ; ++q) {
        flush512(aA[q], aB[q], &tot[q][0]);
        flush512(bA[q], bB[q], &tot[q][2]);
      }
    }
    if (npairs % 2) {  // trailing pair of groups
      const size_t off = size_t(npairs - 1) * 32;
      const __m256i m4y = _mm256_set1_epi8(0x0F);
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + off));
      const __m256i lo = _mm256_and_si256(c, m4y);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), m4y);
      for (int q = 0; q < NQ; ++q) {
        const __m256i L = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(luts[q] + off));
        const __m256i ra = _mm256_shuffle_epi8(L, lo);
        const __m256i rb = _mm256_shuffle_epi8(L, hi);
        flush256(ra, _mm256_srli_epi16(ra, 8), &tot[q][0]);
        flush256(rb, _mm256_srli_epi16(rb, 8), &tot[q][2]);
      }
    }
    for (int q = 0; q < NQ; ++q) {
      int32_t* out = acc + size_t(q) * acc_stride + b * 32;
      for (int i = 0; i < 4; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * i), tot[q][i]);
    }
  }
}

}  // namespace

void scan_nibbles_avx512(const uint8_t* blocks, size_t nblocks, int g2, const uint8_t* const* luts, int nq,
                         int32_t* acc, size_t acc_stride) {
  for (int q0 = 0; q0 < nq;) {
    const int left = nq - q0;
    int32_t* a = acc + size_t(q0) * acc_stride;
    if (left >= 4) {
      nibbles<4>(blocks, nblocks, g2, luts + q0, a, acc_stride);
      q0 += 4;
    } else if (left >= 2) {
      nibbles<2>(blocks, nblocks, g2, luts + q0, a, acc_stride);
      q0 += 2;
    } else {
      nibbles<1>(blocks, nblocks, g2, luts + q0, a, acc_stride);
      q0 += 1;
    }
  }
}

}  // namespace tqsearch::internal
