// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// Scalar references of the scan kernels: the definition every SIMD level must match bit for bit.
#include <algorithm>
#include <cstring>

#include "quant/fast_scan_codes.h"
#include "quant/internal/lane_sum.h"

namespace tqsearch::internal {

void scan_nibbles_scalar(const uint8_t* blocks, size_t nblocks, int g2, const uint8_t* const* luts, int nq,
                         int32_t* acc, size_t acc_stride) {
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* blk = blocks + b * size_t(g2) * 16;
    for (int q = 0; q < nq; ++q) {
      const uint8_t* lut = luts[q];
      int32_t* out = acc + size_t(q) * acc_stride + b * 32;
      for (int v = 0; v < 32; ++v) {
        int32_t sum = 0;
        for (int j = 0; j < g2; ++j) {
          const uint8_t byte = blk[size_t(j) * 16 + (v & 15)];
          const int nib = v < 16 ? (byte & 15) : (byte >> 4);
          sum += lut[size_t(j) * 16 + nib];
        }
        out[v] = sum;
      }
    }
  }
}

void scan_fused_scalar(const FusedScan& s) {
  float scores[32];
  for (size_t b = 0; b < s.nblocks; ++b) {
    const uint8_t* blk = s.blocks + b * size_t(s.g2) * 16;
    const size_t r0 = b * 32;
    const size_t valid = s.nvalid > r0 ? std::min<size_t>(32, s.nvalid - r0) : 0;
    if (valid == 0) break;
    for (int q = 0; q < s.nq; ++q) {
      const uint8_t* lut = s.luts[q];
      const float thr = s.threshold[q];
      uint32_t mask = 0;
      for (int v = 0; v < 32; ++v) {
        int32_t sum = 0;
        for (int j = 0; j < s.g2; ++j) {
          const uint8_t byte = blk[size_t(j) * 16 + (v & 15)];
          sum += lut[size_t(j) * 16 + (v < 16 ? (byte & 15) : (byte >> 4))];
        }
        const float t = static_cast<float>(sum) * s.scale[q] + s.bias[q];
        float sc = s.mult[r0 + v] * t;
        if (s.add) sc = sc + s.add[r0 + v];
        if (s.slack) sc = sc + s.slack[r0 + v] * s.slack_scale[q];
        scores[v] = sc;
        if (size_t(v) < valid && sc > thr) mask |= 1u << v;
      }
      if (mask) s.sink(s.ctx, q, s.first_row + r0, scores, mask);
    }
  }
}

float dot_nibbles_scalar(const uint8_t* code, int d, const float* qr, const float* c) {
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = 0; j < d; ++j) {
    const int idx = (code[j >> 1] >> ((j & 1) * 4)) & 15;
    const float prod = qr[j] * c[idx];
    l[j & 7] = l[j & 7] + prod;
  }
  return reduce_lanes(l);
}

void scan_int8_scalar(const uint8_t* blocks, size_t nblocks, int padded_d, const int8_t* const* q8, int nq,
                      int32_t* acc, size_t acc_stride) {
  for (size_t b = 0; b < nblocks; ++b) {
    const int8_t* blk = reinterpret_cast<const int8_t*>(blocks) + b * 32 * size_t(padded_d);
    for (int q = 0; q < nq; ++q) {
      int32_t* out = acc + size_t(q) * acc_stride + b * 32;
      for (int v = 0; v < 32; ++v) {
        const int8_t* code = blk + size_t(v) * padded_d;
        int32_t sum = 0;
        for (int t = 0; t < padded_d; ++t) sum += int32_t(code[t]) * int32_t(q8[q][t]);
        out[v] = sum;
      }
    }
  }
}

void accumulators_to_scores_scalar(const int32_t* acc, size_t n, const float* mult, const float* add, float scale,
                                   float bias, float* scores) {
  for (size_t v = 0; v < n; ++v) {
    const float t = static_cast<float>(acc[v]) * scale + bias;
    float s = mult[v] * t;
    if (add) s = s + add[v];
    scores[v] = s;
  }
}

size_t positions_above_scalar(const float* scores, size_t n, float threshold, uint32_t* out) {
  size_t m = 0;
  for (size_t v = 0; v < n; ++v)
    if (scores[v] > threshold) out[m++] = static_cast<uint32_t>(v);
  return m;
}

}  // namespace tqsearch::internal
