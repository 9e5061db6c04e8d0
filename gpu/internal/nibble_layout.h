// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Host/device definition of the nibble-mode word of the GPU scan layout (see gpu_quantizer.cuh), its table, and a
/// portable reference of its dequantization (PTX prmt semantics), so that host tests can check the layout without a
/// GPU.
///
/// Sign/magnitude codes. Every nibble-mode table holds Lloyd-Max centroids of symmetric densities: they come in
/// pairs ±c (the 2^b levels of one codebook, or the levels of the two codebooks of a fractional rate, at most 16 in
/// all, so at most 8 pairs). A coordinate's 4-bit code is c = 8·s + m: m the pair, s the sign. The int8 value is
/// T[m] for s = 0 and ~T[m] = −T[m] − 1 for s = 1, with T[m] = −a_m − 1 < 0 and a_m = round(|c_m|/tscale − ½) ≥ 0:
/// value v stands for (v + ½)·tscale, so the pair is ∓(a_m + ½)·tscale, exactly antisymmetric. Dequantizing is
/// one byte permute of the 8-entry magnitude table and one XOR with the sign mask per 4 values; a dot product with
/// int8 query values q8 is Σ q8·(v + ½) = (2·Σ q8·v + Σ q8) / 2, exact in integers.

#include <cmath>
#include <cstdint>

#include "quant/error.h"

#if defined(__CUDACC__)
#define TQ_HOST_DEVICE __host__ __device__
#else
#define TQ_HOST_DEVICE
#endif

namespace tqsearch::gpu::internal {

/// Packs 8 codes c[0..7] (each < 16; c = 8·s + m) as [m0 s4 m1 s0 | m2 s5 m3 s1 | m4 s6 m5 s2 | m6 s7 m7 s3]
/// (m: 3 bits, s: 1 bit, LSB first): the low and high 16 bits hold the permute selectors of values 0–3 and 4–7
/// once their bit 3 is masked, and s0..s3 / s4..s7 are the sign bits of the word's bytes / of its bytes after a
/// left shift by 4.
TQ_HOST_DEVICE inline uint32_t pack_nibble_word(const uint32_t c[8]) {
  uint32_t w = 0;
  for (int i = 0; i < 8; ++i) {
    const uint32_t m = c[i] & 7u, s = (c[i] >> 3) & 1u;
    w |= m << (4 * i);
    w |= s << (i < 4 ? 8 * i + 7 : 8 * (i - 4) + 3);
  }
  return w;
}

/// PTX `prmt.b32 d, a, b, sel` in its default mode: output byte i = byte (sel_i & 7) of {b:a}, replaced by its sign
/// replicated over 8 bits when sel_i & 8.
TQ_HOST_DEVICE inline uint32_t prmt_reference(uint32_t a, uint32_t b, uint32_t sel) {
  const uint64_t src = (uint64_t(b) << 32) | a;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    const uint32_t s = (sel >> (4 * i)) & 0xFu;
    uint32_t byte = uint32_t(src >> (8 * (s & 7u))) & 0xFFu;
    if (s & 8u) byte = (byte & 0x80u) ? 0xFFu : 0x00u;
    r |= byte << (8 * i);
  }
  return r;
}

/// The dequantization the scan kernel performs (with hardware prmt), written with prmt_reference: values 0–3 of
/// the word in lo4, 4–7 in hi4 (int8 each), from the magnitude table words table[0..1] (T[0..7], little-endian).
TQ_HOST_DEVICE inline void dequant_word_reference(uint32_t w, const uint32_t table[2], uint32_t& lo4, uint32_t& hi4) {
  const uint32_t sa = w & 0x7777u, sb = (w >> 16) & 0x7777u;
  const uint32_t ma = prmt_reference(w, 0u, 0xBA98u), mb = prmt_reference(w << 4, 0u, 0xBA98u);
  lo4 = prmt_reference(table[0], table[1], sa) ^ ma;
  hi4 = prmt_reference(table[0], table[1], sb) ^ mb;
}

/// The int8 value a code dequantizes to (scalar form of dequant_word_reference).
TQ_HOST_DEVICE inline int nibble_value(const int8_t magnitude_table[8], uint32_t code) {
  const int t = magnitude_table[code & 7u];
  return (code & 8u) ? -t - 1 : t;
}

/// Nibble-mode table of a quantizer: `levels` centroids in table-index order (entries [0, nhigh) the high
/// codebook, [nhigh, nhigh + nlow) the low one; each codebook sorted ascending and symmetric), the scale, the
/// 8-entry magnitude table and the code of every table index.
struct NibbleTable {
  float tscale = 0;          ///< value v stands for (v + ½)·tscale
  int8_t magnitude[8] = {};  ///< T[m] = −a_m − 1
  uint8_t code[16] = {};     ///< code (8·s + m) of table index t
};

/// Builds the table for codebooks of nhigh and nlow levels (each even, nhigh + nlow ≤ 16; nhigh = 0 for integer
/// rates). Pairs are numbered high codebook first, innermost pair first.
inline NibbleTable make_nibble_table(const float* cent_high, int nhigh, const float* cent_low, int nlow) {
  TQ_CHECK(nhigh >= 0 && nlow >= 2 && nhigh % 2 == 0 && nlow % 2 == 0 && nhigh + nlow <= 16,
           "nibble table: codebook sizes must be even with at most 16 levels in all, got " << nhigh << " + " << nlow);
  for (int t = 1; t < nhigh; ++t)
    TQ_CHECK(cent_high[t - 1] < cent_high[t], "nibble table: high codebook not ascending at " << t);
  for (int t = 1; t < nlow; ++t) TQ_CHECK(cent_low[t - 1] < cent_low[t], "nibble table: low codebook not ascending at " << t);
  NibbleTable nt;
  float cmax = 0;
  for (int t = 0; t < nhigh; ++t) cmax = std::fmax(cmax, std::fabs(cent_high[t]));
  for (int t = 0; t < nlow; ++t) cmax = std::fmax(cmax, std::fabs(cent_low[t]));
  nt.tscale = cmax > 0 ? cmax / 127.5f : 1.0f;  // the largest magnitude maps to a = 127
  int pair = 0;
  auto add = [&](const float* cent, int levels, int index_base) {
    const int half = levels / 2;
    for (int i = 0; i < half; ++i) {
      // Pair i: entries half − 1 − i (negative) and half + i (positive); magnitude from both (they agree up to
      // the codebook's rounding).
      const float mag = 0.5f * (std::fabs(cent[half - 1 - i]) + std::fabs(cent[half + i]));
      long a = std::lround(mag / nt.tscale - 0.5f);
      a = a < 0 ? 0 : (a > 127 ? 127 : a);
      nt.magnitude[pair] = static_cast<int8_t>(-a - 1);
      nt.code[index_base + half - 1 - i] = static_cast<uint8_t>(pair);      // s = 0: T[m] = −a − 1
      nt.code[index_base + half + i] = static_cast<uint8_t>(8 + pair);      // s = 1: ~T[m] = a
      ++pair;
    }
  };
  add(cent_high, nhigh, 0);
  add(cent_low, nlow, nhigh);
  return nt;
}

}  // namespace tqsearch::gpu::internal
