// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// AVX2 scan kernels (compiled with -mavx2 -mfma; -ffp-contract=off keeps float results equal to the scalar file).
//
// Nibble kernel: one 32-byte load holds groups j and j+1 of 32 vectors (lane 0: group j, lane 1: group j+1; low
// nibbles vectors 0..15, high nibbles 16..31). pshufb looks up 2×32 uint8 LUT entries. uint8 results are summed
// as uint16 pairs: A += r (even byte + 256·odd byte, mod 2^16) and B += r >> 8 (odd bytes), so even = A − (B << 8).
// That is exact while each sum stays < 2^16; the two lanes are added in 16 bits before widening to int32, so the
// sums are widened every 128 pairs (2·128·255 < 65536).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "quant/fast_scan_codes.h"
#include "quant/internal/lane_sum.h"

namespace tqsearch::internal {
namespace {

// uint16 sums of one query's block over at most kChunk pairs → int32 sums of vectors 0–7, 8–15, 16–23, 24–31.
// In aA/aB (vectors 0–15) and bA/bB (16–31) lane l holds group j+l; A = even bytes + 256·odd bytes (mod 2^16), B =
// odd bytes. The two lanes are added in 16 bits first: a lane sum is <= kChunk·255, so the sum of both stays below
// 2^16, and A − 256·B (mod 2^16) of the lane sums is the exact even sum.
constexpr int kChunk = 128;
inline void widen(__m256i aA, __m256i aB, __m256i bA, __m256i bB, __m256i* t) {
  const __m256i A = _mm256_add_epi16(_mm256_permute2x128_si256(aA, bA, 0x20), _mm256_permute2x128_si256(aA, bA, 0x31));
  const __m256i B = _mm256_add_epi16(_mm256_permute2x128_si256(aB, bB, 0x20), _mm256_permute2x128_si256(aB, bB, 0x31));
  const __m256i even = _mm256_sub_epi16(A, _mm256_slli_epi16(B, 8));
  const __m256i lo = _mm256_unpacklo_epi16(even, B);  // vectors 0–7 | 16–23
  const __m256i hi = _mm256_unpackhi_epi16(even, B);  // vectors 8–15 | 24–31
  t[0] = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(lo));
  t[1] = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(hi));
  t[2] = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(lo, 1));
  t[3] = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(hi, 1));
}

// One lookup per pair and query added into the uint16 sums, pairs [0, nbytes / 32) of one block:
// codes at c, query q's LUT rows at l[q] (both advance 32 bytes per pair). Per pair: lo = c & 0x0F and hi =
// (c & 0xF0) >> 4 (two and with the code load folded in, one shift; the same indices as (c >> 4) & 0x0F) shared by
// the queries, then per query one LUT load, two pshufb, two shifts, four adds; 10 (NQ = 1) or 19 (NQ = 2) vector
// operations and 2 or 3 loads per pair. Inline assembly because GCC 12 compiled the same intrinsics into a loop
// with 8 register copies per iteration and the nibble mask reloaded from the stack; here the accumulators, both
// masks and four temporaries stay in 14 of the 16 ymm registers. Integer adds in the same order per lane: the
// sums are those of the intrinsics loop in chunk_sums (and of the scalar kernel).
template <int NQ>
inline void pairs_u1(const uint8_t* c, const uint8_t* const* l, size_t nbytes, __m256i* aA, __m256i* aB, __m256i* bA,
                     __m256i* bB) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), mF0 = _mm256_set1_epi8(int8_t(0xF0));
  __m256i lo, hi, L, r;
  __m256i aA0 = _mm256_setzero_si256(), aB0 = aA0, bA0 = aA0, bB0 = aA0, aA1 = aA0, aB1 = aA0, bA1 = aA0, bB1 = aA0;
  size_t off = 0;
// Loop pieces (string literals): split a pair's code bytes into lo / hi indices; one query's lookups and adds.
#define TQ_PAIRS_SPLIT                    \
  "1:\n\t"                                \
  "vpand (%[c],%[off]), %[m4], %[lo]\n\t" \
  "vpand (%[c],%[off]), %[mF0], %[hi]\n\t" \
  "vpsrlw $4, %[hi], %[hi]\n\t"
#define TQ_PAIRS_QUERY(l, aA, aB, bA, bB)                      \
  "vmovdqu (%[" l "],%[off]), %[L]\n\t"                        \
  "vpshufb %[lo], %[L], %[r]\n\t"                              \
  "vpshufb %[hi], %[L], %[L]\n\t"                              \
  "vpaddw %[r], %[" aA "], %[" aA "]\n\t"                      \
  "vpsrlw $8, %[r], %[r]\n\t"                                  \
  "vpaddw %[r], %[" aB "], %[" aB "]\n\t"                      \
  "vpaddw %[L], %[" bA "], %[" bA "]\n\t"                      \
  "vpsrlw $8, %[L], %[L]\n\t"                                  \
  "vpaddw %[L], %[" bB "], %[" bB "]\n\t"
#define TQ_PAIRS_NEXT        \
  "add $32, %[off]\n\t"     \
  "cmp %[off], %[n]\n\t"    \
  "jne 1b"
  if (nbytes == 0) {  // no groups: zero sums (the loop below runs at least once)
  } else if constexpr (NQ == 2) {
    asm(TQ_PAIRS_SPLIT TQ_PAIRS_QUERY("l0", "aA0", "aB0", "bA0", "bB0")
            TQ_PAIRS_QUERY("l1", "aA1", "aB1", "bA1", "bB1") TQ_PAIRS_NEXT
        : [off] "+r"(off), [aA0] "+x"(aA0), [aB0] "+x"(aB0), [bA0] "+x"(bA0), [bB0] "+x"(bB0), [aA1] "+x"(aA1),
          [aB1] "+x"(aB1), [bA1] "+x"(bA1), [bB1] "+x"(bB1), [lo] "=&x"(lo),
          [hi] "=&x"(hi), [L] "=&x"(L), [r] "=&x"(r)
        : [c] "r"(c), [l0] "r"(l[0]), [l1] "r"(l[1]), [n] "r"(nbytes), [m4] "x"(m4), [mF0] "x"(mF0)
        : "cc", "memory");
  } else {
    static_assert(NQ == 1);
    asm(TQ_PAIRS_SPLIT TQ_PAIRS_QUERY("l0", "aA0", "aB0", "bA0", "bB0") TQ_PAIRS_NEXT
        : [off] "+r"(off), [aA0] "+x"(aA0), [aB0] "+x"(aB0), [bA0] "+x"(bA0), [bB0] "+x"(bB0), [lo] "=&x"(lo),
          [hi] "=&x"(hi), [L] "=&x"(L), [r] "=&x"(r)
        : [c] "r"(c), [l0] "r"(l[0]), [n] "r"(nbytes), [m4] "x"(m4), [mF0] "x"(mF0)
        : "cc", "memory");
  }
#undef TQ_PAIRS_SPLIT
#undef TQ_PAIRS_QUERY
#undef TQ_PAIRS_NEXT
  aA[0] = aA0, aB[0] = aB0, bA[0] = bA0, bB[0] = bB0;
  if constexpr (NQ == 2) aA[1] = aA1, aB[1] = aB1, bA[1] = bA1, bB[1] = bB1;
}

// pairs_u1 for LUTs whose entries are small enough that U lookups (U = 2: entries <= 127, 4: <= 63) sum in 8 bits:
// per U pairs and query, 2U pshufb and 2(U − 1) byte adds, then one widening into the uint16 sums (two shifts, four
// adds) instead of U. nbytes must be a multiple of 32·U. Per pair: the code load split into lo / hi indices with
// the nibble mask read from memory (four operations: 16 ymm registers hold NQ = 2's eight accumulators, both index
// vectors, four byte sums and two temporaries); the last query of a pair writes its low lookups over lo.
// Byte sums (<= U·max entry <= 255) never carry, so the uint16 sums are exact (the scalar kernel's totals).
// Kernel alone, 50 pairs·2 queries·16384 vectors per call: lut_max 63 1.13× lut_max 255 (an intrinsics version of
// the same loop was no faster than 255); GloVe prefix scan at z = 0 end to end 1.05× (same build).
template <int NQ, int U>
inline void pairs_uu(const uint8_t* c, const uint8_t* const* l, size_t nbytes, __m256i* aA, __m256i* aB,
                     __m256i* bA, __m256i* bB) {
  static_assert((U == 2 || U == 4) && (NQ == 1 || NQ == 2));
  alignas(32) static const uint8_t kNibble[32] = {15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
                                                  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15};
  __m256i lo, hi, L, r, sa0, sb0, sa1, sb1, aA0, aB0, bA0, bB0, aA1, aB1, bA1, bB1;
  size_t off = 0;
  // The accumulators are zeroed inside the asm (outputs only: "+x" would take two of the 30 operands each).
#define TQ_UU_ZERO(a) "vpxor %[" a "], %[" a "], %[" a "]\n\t"
#define TQ_UU_SPLIT(o)                        \
  "vmovdqu " o "(%[c],%[off]), %[hi]\n\t"     \
  "vpand (%[m4p]), %[hi], %[lo]\n\t"          \
  "vpsrlw $4, %[hi], %[hi]\n\t"               \
  "vpand (%[m4p]), %[hi], %[hi]\n\t"
// First pair of U: the lookups start the byte sums.
#define TQ_UU_FIRST(o, l, sa, sb)                 \
  "vmovdqu " o "(%[" l "],%[off]), %[L]\n\t"    \
  "vpshufb %[lo], %[L], %[" sa "]\n\t"          \
  "vpshufb %[hi], %[L], %[" sb "]\n\t"
// Later pairs: lookups added in bytes; r is a temporary (the pair's last query passes lo itself).
#define TQ_UU_NEXT(o, l, sa, sb, r)                 \
  "vmovdqu " o "(%[" l "],%[off]), %[L]\n\t"      \
  "vpshufb %[lo], %[L], %[" r "]\n\t"             \
  "vpaddb %[" r "], %[" sa "], %[" sa "]\n\t"     \
  "vpshufb %[hi], %[L], %[L]\n\t"                 \
  "vpaddb %[L], %[" sb "], %[" sb "]\n\t"
#define TQ_UU_WIDEN(sa, sb, aA, aB, bA, bB)      \
  "vpaddw %[" sa "], %[" aA "], %[" aA "]\n\t" \
  "vpsrlw $8, %[" sa "], %[" sa "]\n\t"        \
  "vpaddw %[" sa "], %[" aB "], %[" aB "]\n\t" \
  "vpaddw %[" sb "], %[" bA "], %[" bA "]\n\t" \
  "vpsrlw $8, %[" sb "], %[" sb "]\n\t"        \
  "vpaddw %[" sb "], %[" bB "], %[" bB "]\n\t"
#define TQ_UU_LOOP_END(step) \
  "add $" step ", %[off]\n\t" \
  "cmp %[off], %[n]\n\t"      \
  "jne 1b"
#define TQ_UU_PAIR2_FIRST(o) TQ_UU_SPLIT(o) TQ_UU_FIRST(o, "l0", "sa0", "sb0") TQ_UU_FIRST(o, "l1", "sa1", "sb1")
#define TQ_UU_PAIR2_NEXT(o) \
  TQ_UU_SPLIT(o) TQ_UU_NEXT(o, "l0", "sa0", "sb0", "r") TQ_UU_NEXT(o, "l1", "sa1", "sb1", "lo")
#define TQ_UU_PAIR1_FIRST(o) TQ_UU_SPLIT(o) TQ_UU_FIRST(o, "l0", "sa0", "sb0")
#define TQ_UU_PAIR1_NEXT(o) TQ_UU_SPLIT(o) TQ_UU_NEXT(o, "l0", "sa0", "sb0", "lo")
#define TQ_UU_WIDEN2 \
  TQ_UU_WIDEN("sa0", "sb0", "aA0", "aB0", "bA0", "bB0") TQ_UU_WIDEN("sa1", "sb1", "aA1", "aB1", "bA1", "bB1")
#define TQ_UU_WIDEN1 TQ_UU_WIDEN("sa0", "sb0", "aA0", "aB0", "bA0", "bB0")
#define TQ_UU_ZERO1 TQ_UU_ZERO("aA0") TQ_UU_ZERO("aB0") TQ_UU_ZERO("bA0") TQ_UU_ZERO("bB0")
#define TQ_UU_ZERO2 TQ_UU_ZERO1 TQ_UU_ZERO("aA1") TQ_UU_ZERO("aB1") TQ_UU_ZERO("bA1") TQ_UU_ZERO("bB1")
#define TQ_UU_OUT2                                                                                                 \
  [off] "+r"(off), [aA0] "=&x"(aA0), [aB0] "=&x"(aB0), [bA0] "=&x"(bA0), [bB0] "=&x"(bB0), [aA1] "=&x"(aA1),        \
      [aB1] "=&x"(aB1), [bA1] "=&x"(bA1), [bB1] "=&x"(bB1), [lo] "=&x"(lo), [hi] "=&x"(hi), [L] "=&x"(L),             \
      [r] "=&x"(r), [sa0] "=&x"(sa0), [sb0] "=&x"(sb0), [sa1] "=&x"(sa1), [sb1] "=&x"(sb1)
#define TQ_UU_OUT1                                                                                                 \
  [off] "+r"(off), [aA0] "=&x"(aA0), [aB0] "=&x"(aB0), [bA0] "=&x"(bA0), [bB0] "=&x"(bB0), [lo] "=&x"(lo),         \
      [hi] "=&x"(hi), [L] "=&x"(L), [sa0] "=&x"(sa0), [sb0] "=&x"(sb0)
  if (nbytes == 0) {
    aA0 = aB0 = bA0 = bB0 = aA1 = aB1 = bA1 = bB1 = _mm256_setzero_si256();
  } else if constexpr (NQ == 2 && U == 4) {
    asm(TQ_UU_ZERO2 "1:\n\t" TQ_UU_PAIR2_FIRST("0") TQ_UU_PAIR2_NEXT("32") TQ_UU_PAIR2_NEXT("64") TQ_UU_PAIR2_NEXT("96")
            TQ_UU_WIDEN2 TQ_UU_LOOP_END("128")
        : TQ_UU_OUT2
        : [c] "r"(c), [l0] "r"(l[0]), [l1] "r"(l[1]), [n] "r"(nbytes), [m4p] "r"(kNibble)
        : "cc", "memory");
  } else if constexpr (NQ == 2) {
    asm(TQ_UU_ZERO2 "1:\n\t" TQ_UU_PAIR2_FIRST("0") TQ_UU_PAIR2_NEXT("32") TQ_UU_WIDEN2 TQ_UU_LOOP_END("64")
        : TQ_UU_OUT2
        : [c] "r"(c), [l0] "r"(l[0]), [l1] "r"(l[1]), [n] "r"(nbytes), [m4p] "r"(kNibble)
        : "cc", "memory");
  } else if constexpr (U == 4) {
    asm(TQ_UU_ZERO1 "1:\n\t" TQ_UU_PAIR1_FIRST("0") TQ_UU_PAIR1_NEXT("32") TQ_UU_PAIR1_NEXT("64") TQ_UU_PAIR1_NEXT("96")
            TQ_UU_WIDEN1 TQ_UU_LOOP_END("128")
        : TQ_UU_OUT1
        : [c] "r"(c), [l0] "r"(l[0]), [n] "r"(nbytes), [m4p] "r"(kNibble)
        : "cc", "memory");
  } else {
    asm(TQ_UU_ZERO1 "1:\n\t" TQ_UU_PAIR1_FIRST("0") TQ_UU_PAIR1_NEXT("32") TQ_UU_WIDEN1 TQ_UU_LOOP_END("64")
        : TQ_UU_OUT1
        : [c] "r"(c), [l0] "r"(l[0]), [n] "r"(nbytes), [m4p] "r"(kNibble)
        : "cc", "memory");
  }
#undef TQ_UU_SPLIT
#undef TQ_UU_FIRST
#undef TQ_UU_NEXT
#undef TQ_UU_WIDEN
#undef TQ_UU_LOOP_END
#undef TQ_UU_PAIR2_FIRST
#undef TQ_UU_PAIR2_NEXT
#undef TQ_UU_PAIR1_FIRST
#undef TQ_UU_PAIR1_NEXT
#undef TQ_UU_WIDEN2
#undef TQ_UU_WIDEN1
#undef TQ_UU_OUT2
#undef TQ_UU_OUT1
#undef TQ_UU_ZERO
#undef TQ_UU_ZERO1
#undef TQ_UU_ZERO2
  aA[0] = aA0, aB[0] = aB0, bA[0] = bA0, bB[0] = bB0;
  if constexpr (NQ == 2) aA[1] = aA1, aB[1] = aB1, bA[1] = bA1, bB[1] = bB1;
}

// uint16 sums of pairs [p0, p1) (p1 − p0 <= kChunk) of one block for NQ queries (see widen for the layout). U =
// lookups added per vector in 8 bits before the uint16 sums: 1 for any LUT, 2 when entries are <= 127, 4 when <= 63.
template <int NQ, int U>
inline void chunk_sums(const uint8_t* blk, int p0, int p1, const uint8_t* const* luts, __m256i* aA, __m256i* aB,
                       __m256i* bA, __m256i* bB) {
  if constexpr (U == 1) {
    const uint8_t* l[NQ];
    for (int q = 0; q < NQ; ++q) l[q] = luts[q] + size_t(p0) * 32;
    pairs_u1<NQ>(blk + size_t(p0) * 32, l, size_t(p1 - p0) * 32, aA, aB, bA, bB);
  } else {
    const uint8_t* l[NQ];
    for (int q = 0; q < NQ; ++q) l[q] = luts[q] + size_t(p0) * 32;
    const int main = (p1 - p0) / U * U;
    pairs_uu<NQ, U>(blk + size_t(p0) * 32, l, size_t(main) * 32, aA, aB, bA, bB);
    // The last (p1 − p0) mod U pairs: one lookup at a time into the uint16 sums.
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int p = p0 + main; p < p1; ++p) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + size_t(p) * 32));
      const __m256i lo = _mm256_and_si256(c, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), m4);
      for (int q = 0; q < NQ; ++q) {
        const __m256i L = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(luts[q] + size_t(p) * 32));
        const __m256i ra = _mm256_shuffle_epi8(L, lo);
        const __m256i rb = _mm256_shuffle_epi8(L, hi);
        aA[q] = _mm256_add_epi16(aA[q], ra);
        aB[q] = _mm256_add_epi16(aB[q], _mm256_srli_epi16(ra, 8));
        bA[q] = _mm256_add_epi16(bA[q], rb);
        bB[q] = _mm256_add_epi16(bB[q], _mm256_srli_epi16(rb, 8));
      }
    }
  }
}

// LUT sums of one block of 32 vectors for NQ queries into tot[q][0..3] (int32, vectors 0–7, 8–15, 16–23, 24–31),
// widened every kChunk pairs. NQ <= 2 keeps the 4·NQ uint16 accumulators and the temporaries in 16 registers.
template <int NQ, int U>
inline void accumulate_block(const uint8_t* blk, int npairs, const uint8_t* const* luts, __m256i (*tot)[4]) {
  if (npairs <= kChunk) {  // d <= 256 at 4 bits: one chunk, no int32 sums to carry
    __m256i aA[NQ], aB[NQ], bA[NQ], bB[NQ];
    chunk_sums<NQ, U>(blk, 0, npairs, luts, aA, aB, bA, bB);
    for (int q = 0; q < NQ; ++q) widen(aA[q], aB[q], bA[q], bB[q], tot[q]);
    return;
  }
  for (int q = 0; q < NQ; ++q)
    for (int i = 0; i < 4; ++i) tot[q][i] = _mm256_setzero_si256();
  for (int p0 = 0; p0 < npairs; p0 += kChunk) {
    __m256i aA[NQ], aB[NQ], bA[NQ], bB[NQ];
    chunk_sums<NQ, U>(blk, p0, std::min(npairs, p0 + kChunk), luts, aA, aB, bA, bB);
    for (int q = 0; q < NQ; ++q) {
      __m256i t[4];
      widen(aA[q], aB[q], bA[q], bB[q], t);
      for (int i = 0; i < 4; ++i) tot[q][i] = _mm256_add_epi32(tot[q][i], t[i]);
    }
  }
}

// One block of 32 vectors for NQ queries → int32 accumulators.
template <int NQ>
inline void nibbles_block(const uint8_t* blk, int npairs, const uint8_t* const* luts, int32_t* acc,
                          size_t acc_stride) {
  __m256i tot[NQ][4];
  accumulate_block<NQ, 1>(blk, npairs, luts, tot);
  for (int q = 0; q < NQ; ++q) {
    int32_t* out = acc + size_t(q) * acc_stride;
    for (int i = 0; i < 4; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * i), tot[q][i]);
  }
}

// Fused epilogue: scores of the block's 32 vectors for NQ queries, compared with the running thresholds.
template <int NQ, int U>
inline void fused_block(const FusedScan& s, size_t b, int q0, uint32_t valid_mask) {
  __m256i tot[NQ][4];
  accumulate_block<NQ, U>(s.blocks + b * size_t(s.g2) * 16, s.g2 / 2, s.luts + q0, tot);
  const size_t r0 = b * 32;
  for (int q = 0; q < NQ; ++q) {
    const __m256 vs = _mm256_set1_ps(s.scale[q0 + q]), vb = _mm256_set1_ps(s.bias[q0 + q]);
    const __m256 thr = _mm256_set1_ps(s.threshold[q0 + q]);
    const __m256 ss = _mm256_set1_ps(s.slack ? s.slack_scale[q0 + q] : 0.0f);
    __m256 sc[4], gt[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 t = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(tot[q][i]), vs), vb);
      sc[i] = _mm256_mul_ps(_mm256_loadu_ps(s.mult + r0 + 8 * i), t);
      if (s.add) sc[i] = _mm256_add_ps(sc[i], _mm256_loadu_ps(s.add + r0 + 8 * i));
      if (s.slack) sc[i] = _mm256_add_ps(sc[i], _mm256_mul_ps(_mm256_loadu_ps(s.slack + r0 + 8 * i), ss));
      gt[i] = _mm256_cmp_ps(sc[i], thr, _CMP_GT_OQ);
    }
    // Most blocks hold no candidate: one movemask of the OR of the four compares decides.
    if (!_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(gt[0], gt[1]), _mm256_or_ps(gt[2], gt[3])))) continue;
    uint32_t mask = 0;
    for (int i = 0; i < 4; ++i) mask |= uint32_t(_mm256_movemask_ps(gt[i])) << (8 * i);
    mask &= valid_mask;
    if (mask) {
      alignas(32) float out[32];
      for (int i = 0; i < 4; ++i) _mm256_store_ps(out + 8 * i, sc[i]);
      s.sink(s.ctx, q0 + q, s.first_row + r0, out, mask);
    }
  }
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

template <int NQ>
void int8_kernel(const uint8_t* blocks, size_t nblocks, int padded_d, const int8_t* const* q8, int32_t* acc,
                 size_t acc_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t b = 0; b < nblocks; ++b) {
    const int8_t* blk = reinterpret_cast<const int8_t*>(blocks) + b * 32 * size_t(padded_d);
    for (int v = 0; v < 32; ++v) {
      const int8_t* code = blk + size_t(v) * padded_d;
      __m256i s[NQ];
      for (int q = 0; q < NQ; ++q) s[q] = _mm256_setzero_si256();
      for (int t = 0; t < padded_d; t += 32) {
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(code + t));
        const __m256i ac = _mm256_abs_epi8(c);
        for (int q = 0; q < NQ; ++q) {
          const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8[q] + t));
          // |c|·(sign(c)·q): |c| <= 127, |q| <= 127 so the pairwise int16 sums (<= 32258) never saturate.
          const __m256i p = _mm256_maddubs_epi16(ac, _mm256_sign_epi8(qv, c));
          s[q] = _mm256_add_epi32(s[q], _mm256_madd_epi16(p, ones));
        }
      }
      for (int q = 0; q < NQ; ++q) acc[size_t(q) * acc_stride + b * 32 + v] = hsum_epi32(s[q]);
    }
  }
}

}  // namespace

void scan_nibbles_avx2(const uint8_t* blocks, size_t nblocks, int g2, const uint8_t* const* luts, int nq,
                       int32_t* acc, size_t acc_stride) {
  // Blocks outside, queries inside: a block (g2·16 bytes) stays in L1 while every query of the batch reads it,
  // so memory traffic is shared by the batch; queries go two at a time to avoid register spills.
  const int npairs = g2 / 2;
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = blocks + b * size_t(g2) * 16;
    int q = 0;
    for (; q + 2 <= nq; q += 2)
      nibbles_block<2>(blk, npairs, luts + q, acc + size_t(q) * acc_stride + b * 32, acc_stride);
    if (q < nq) nibbles_block<1>(blk, npairs, luts + q, acc + size_t(q) * acc_stride + b * 32, acc_stride);
  }
}

namespace {
template <int U>
void scan_fused_u(const FusedScan& s) {
  // Blocks outside, queries inside (as scan_nibbles_avx2); the scores never leave registers unless the block
  // holds a candidate.
  for (size_t b = 0; b < s.nblocks; ++b) {
    const size_t r0 = b * 32;
    if (r0 >= s.nvalid) break;
    const size_t valid = std::min<size_t>(32, s.nvalid - r0);
    const uint32_t valid_mask = valid == 32 ? 0xFFFFFFFFu : ((1u << valid) - 1);
    int q = 0;
    for (; q + 2 <= s.nq; q += 2) fused_block<2, U>(s, b, q, valid_mask);
    if (q < s.nq) fused_block<1, U>(s, b, q, valid_mask);
  }
}
}  // namespace

void scan_fused_avx2(const FusedScan& s) {
  if (s.lut_max <= 63) return scan_fused_u<4>(s);
  if (s.lut_max <= 127) return scan_fused_u<2>(s);
  scan_fused_u<1>(s);
}

float dot_nibbles_avx2(const uint8_t* code, int d, const float* qr, const float* c) {
  const __m256 c_lo = _mm256_loadu_ps(c), c_hi = _mm256_loadu_ps(c + 8);
  __m256 acc = _mm256_setzero_ps();
  int j = 0;
  // 8 coordinates = 4 code bytes per step: nibbles → 8 dword indices (even j low nibble, odd j high nibble).
  for (; j + 8 <= d; j += 8) {
    uint32_t w;
    std::memcpy(&w, code + j / 2, 4);
    const __m256i bytes = _mm256_set1_epi32(static_cast<int>(w));
    // lane t takes byte t/2 and shifts by 4·(t & 1)
    const __m256i sh = _mm256_srlv_epi32(bytes, _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    const __m256i idx = _mm256_and_si256(sh, _mm256_set1_epi32(15));
    const __m256 lo = _mm256_permutevar8x32_ps(c_lo, idx);
    const __m256 hi = _mm256_permutevar8x32_ps(c_hi, idx);
    const __m256 cv = _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(qr + j), cv));
  }
  alignas(32) float l[8];
  _mm256_store_ps(l, acc);
  for (; j < d; ++j) {
    const int idx = (code[j >> 1] >> ((j & 1) * 4)) & 15;
    const float prod = qr[j] * c[idx];
    l[j & 7] = l[j & 7] + prod;
  }
  return reduce_lanes(l);
}

void scan_int8_avx2(const uint8_t* blocks, size_t nblocks, int padded_d, const int8_t* const* q8, int nq,
                    int32_t* acc, size_t acc_stride) {
  for (int q0 = 0; q0 < nq;) {
    const int left = nq - q0;
    int32_t* a = acc + size_t(q0) * acc_stride;
    if (left >= 4) {
      int8_kernel<4>(blocks, nblocks, padded_d, q8 + q0, a, acc_stride);
      q0 += 4;
    } else if (left >= 2) {
      int8_kernel<2>(blocks, nblocks, padded_d, q8 + q0, a, acc_stride);
      q0 += 2;
    } else {
      int8_kernel<1>(blocks, nblocks, padded_d, q8 + q0, a, acc_stride);
      q0 += 1;
    }
  }
}

void accumulators_to_scores_avx2(const int32_t* acc, size_t n, const float* mult, const float* add, float scale,
                                 float bias, float* scores) {
  const __m256 vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(bias);
  size_t v = 0;
  for (; v + 8 <= n; v += 8) {
    const __m256 a = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + v)));
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(a, vs), vb);
    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(mult + v), t);
    if (add) s = _mm256_add_ps(s, _mm256_loadu_ps(add + v));
    _mm256_storeu_ps(scores + v, s);
  }
  accumulators_to_scores_scalar(acc + v, n - v, mult + v, add ? add + v : nullptr, scale, bias, scores + v);
}

size_t positions_above_avx2(const float* scores, size_t n, float threshold, uint32_t* out) {
  // Most blocks of 8 have no score above the running threshold: one compare and one movemask skip them.
  const __m256 t = _mm256_set1_ps(threshold);
  size_t m = 0, v = 0;
  for (; v + 8 <= n; v += 8) {
    unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(scores + v), t, _CMP_GT_OQ)));
    while (mask) {
      out[m++] = static_cast<uint32_t>(v + __builtin_ctz(mask));
      mask &= mask - 1;
    }
  }
  for (; v < n; ++v)
    if (scores[v] > threshold) out[m++] = static_cast<uint32_t>(v);
  return m;
}

}  // namespace tqsearch::internal
