// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Host/device definition of the nibble-mode word of the GPU scan layout (see gpu_quantizer.cuh) and a portable
/// reference of its dequantization (PTX prmt semantics), so that host tests can check the layout without a GPU.

#include <cstdint>

#if defined(__CUDACC__)
#define TQ_HOST_DEVICE __host__ __device__
#else
#define TQ_HOST_DEVICE
#endif

namespace tqsearch::gpu::internal {

/// Packs 8 table indices t[0..7] (each < 16; t = 8·h + l) as [l0 h4 l1 h0 | l2 h5 l3 h1 | l4 h6 l5 h2 | l6 h7 l7 h3].
TQ_HOST_DEVICE inline uint32_t pack_nibble_word(const uint32_t t[8]) {
  uint32_t w = 0;
  for (int i = 0; i < 8; ++i) {
    const uint32_t l = t[i] & 7u, h = (t[i] >> 3) & 1u;
    w |= l << (4 * i);
    w |= h << (i < 4 ? 8 * i + 7 : 8 * (i - 4) + 3);
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

/// The dequantization the scan kernel performs (with hardware prmt), written with prmt_reference.
TQ_HOST_DEVICE inline void dequant_word_reference(uint32_t w, const uint32_t table[4], uint32_t& lo4, uint32_t& hi4) {
  const uint32_t sa = w & 0x7777u, sb = (w >> 16) & 0x7777u;
  const uint32_t ma = prmt_reference(w, 0u, 0xBA98u), mb = prmt_reference(w << 4, 0u, 0xBA98u);
  const uint32_t la = prmt_reference(table[0], table[1], sa), ha = prmt_reference(table[2], table[3], sa);
  const uint32_t lb = prmt_reference(table[0], table[1], sb), hb = prmt_reference(table[2], table[3], sb);
  lo4 = (la & ~ma) | (ha & ma);
  hi4 = (lb & ~mb) | (hb & mb);
}

}  // namespace tqsearch::gpu::internal
