// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/fast_scan_codes.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/error.h"

namespace tqsearch {

FastScanCodes::FastScanCodes(const TurboQuantizer& tq, int scan_bits) : tq_(tq), scan_bits_(scan_bits) {
  TQ_CHECK(scan_bits >= 0 && scan_bits <= 4,
           "FastScanCodes: scan_bits must be 0 (full codes) or 1..4 (prefix scan), got " << scan_bits);
  const BitAllocation& a = tq.allocation();
  int8_path_ = scan_bits == 0 && a.high_bits() > 4;
  if (int8_path_) {
    padded_d_ = (tq.d() + 31) / 32 * 32;
    block_bytes_ = size_t(kBlock) * padded_d_;
    // One int8 scale for both codebooks so that the dot product needs no per-coordinate weights.
    float cmax = 0;
    for (int bits : {a.low_bits(), a.high_bits()})
      for (float c : tq.codebook(bits).centroids()) cmax = std::max(cmax, std::abs(c));
    int8_scale_ = cmax / 127.0f;
    int8_table_.assign(2 * 256, 0);  // [0, 256): low codebook, [256, 512): high codebook
    const auto& cl = tq.codebook(a.low_bits()).centroids();
    const auto& ch = tq.codebook(a.high_bits()).centroids();
    for (size_t i = 0; i < cl.size(); ++i) int8_table_[i] = static_cast<int8_t>(std::lround(cl[i] / int8_scale_));
    for (size_t i = 0; i < ch.size(); ++i)
      int8_table_[256 + i] = static_cast<int8_t>(std::lround(ch[i] / int8_scale_));
    return;
  }
  auto add_region = [&](int first, int end, int code_bits, int region) {
    const int bits = scan_bits == 0 ? code_bits : std::min(code_bits, scan_bits);
    const int shift = code_bits - bits;
    if (shift > 0) prefix_ = true;
    if (end > first) centroids_[region] = tq.codebook(code_bits).prefix_centroids(bits);
    const int per = 4 / bits;  // 1 bit: 4 per nibble, 2 bits: 2, 3 and 4 bits: 1
    for (int j = first; j < end; j += per) groups_.push_back({j, std::min(per, end - j), bits, shift});
  };
  add_region(0, a.num_high(), a.high_bits(), 0);
  add_region(a.num_high(), tq.d(), a.low_bits(), 1);
  g2_ = (num_groups() + 1) / 2 * 2;
  uniform_per_ = (a.num_high() == 0 && a.low_bits() >= 3 && !prefix_) ? 1 : 0;
  nibbles_are_bytes_ = a.num_high() == 0 && !prefix_ && (a.low_bits() == 1 || a.low_bits() == 2 || a.low_bits() == 4);
  block_bytes_ = size_t(g2_) * 16;
}

const std::vector<float>& FastScanCodes::group_centroids(const ScanGroup& g) const {
  return centroids_[g.first < tq_.allocation().num_high() ? 0 : 1];
}

FastScanCodes::ReconstructionProducts FastScanCodes::reconstruction_products(const uint8_t* row_code) const {
  TQ_CHECK(!int8_path_, "FastScanCodes::reconstruction_products: nibble path only");
  const BitAllocation& a = tq_.allocation();
  std::vector<uint8_t> idx(tq_.d());
  tq_.unpack_indices(row_code, idx.data());
  ReconstructionProducts r;
  for (const ScanGroup& g : groups_) {
    const std::vector<float>& cs = group_centroids(g);
    const std::vector<float>& cf = tq_.codebook(g.first < a.num_high() ? a.high_bits() : a.low_bits()).centroids();
    for (int k = 0; k < g.count; ++k) {
      const int i = idx[g.first + k];
      const double s = cs[i >> g.shift], f = cf[i];
      r.full_sq += f * f;
      r.dot += s * f;
      r.scan_sq += s * s;
    }
  }
  return r;
}

void FastScanCodes::clear() {
  n_ = 0;
  data_.clear();
}

void FastScanCodes::add(size_t n, const uint8_t* row_codes) {
  if (n == 0) return;
  TQ_CHECK(row_codes != nullptr, "FastScanCodes::add: null codes");
  const size_t new_n = n_ + n;
  data_.resize(((new_n + kBlock - 1) / kBlock) * block_bytes_, 0);
  if (nibbles_are_bytes_) {
    add_packed_nibbles(n, row_codes);
  } else {
    add_unpacked(n, row_codes);
  }
  n_ = new_n;
}

void FastScanCodes::add_packed_nibbles(size_t n, const uint8_t* row_codes) {
  // Integer rates of 1, 2 and 4 bits scanned in full: the nibble of group g is nibble g of the LSB-first packed row
  // code (low nibble of byte g/2 for even g, high nibble for odd g), so a block is a nibble transpose of 32 row codes:
  // row 2t of the block holds the low nibbles of byte t (vectors 0..15 in its low nibbles, 16..31 in its high
  // ones), row 2t+1 the high nibbles. The last byte is masked to the code's bits (padding bits of a code passed in
  // by a caller are ignored, as unpacking would), and the odd group count's pad row stays zero.
  const size_t cs = tq_.code_size();
  const size_t nbytes = tq_.allocation().packed_bytes();
  const unsigned tail_bits = unsigned(tq_.allocation().total_bits() - 8 * (nbytes - 1));  // 1..8
  const uint8_t last_mask = static_cast<uint8_t>(tail_bits >= 8 ? 0xFF : (1u << tail_bits) - 1);
  size_t i = 0;
  // One vector at a time (read-modify-write of its half of each byte) until the next block boundary, and for the
  // last partial block.
  auto add_one = [&](size_t v, const uint8_t* code) {
    uint8_t* col = data_.data() + (v / kBlock) * block_bytes_ + (v % 16);
    const bool high = (v % kBlock) >= 16;
    for (size_t t = 0; t < nbytes; ++t) {
      const unsigned b = t + 1 == nbytes ? code[t] & last_mask : code[t];
      uint8_t* lo = col + 32 * t;
      uint8_t* hi = lo + 16;
      if (high) {
        *lo = static_cast<uint8_t>((*lo & 0x0F) | (b << 4));
        *hi = static_cast<uint8_t>((*hi & 0x0F) | (b & 0xF0));
      } else {
        *lo = static_cast<uint8_t>((*lo & 0xF0) | (b & 0x0F));
        *hi = static_cast<uint8_t>((*hi & 0xF0) | (b >> 4));
      }
    }
  };
  for (; i < n && (n_ + i) % kBlock != 0; ++i) add_one(n_ + i, row_codes + i * cs);
  // Whole blocks: every byte written once, eight code bytes of two vectors (v, v + 16) per 64-bit step.
  constexpr uint64_t kLo = 0x0F0F0F0F0F0F0F0Full;
  for (; i + kBlock <= n; i += kBlock) {
    uint8_t* block = data_.data() + ((n_ + i) / kBlock) * block_bytes_;
    const uint8_t* c0 = row_codes + i * cs;
    for (int c = 0; c < 16; ++c) {
      const uint8_t* a = c0 + size_t(c) * cs;
      const uint8_t* b = a + 16 * cs;
      uint8_t* out = block + c;
      size_t t = 0;
      for (; t + 8 < nbytes; t += 8) {  // the last byte (masked) is left to the loop below
        uint64_t wa, wb;
        std::memcpy(&wa, a + t, 8);
        std::memcpy(&wb, b + t, 8);
        const uint64_t lo = (wa & kLo) | ((wb & kLo) << 4);
        const uint64_t hi = ((wa >> 4) & kLo) | (wb & ~kLo);
        for (int k = 0; k < 8; ++k) {
          out[32 * (t + k)] = static_cast<uint8_t>(lo >> (8 * k));
          out[32 * (t + k) + 16] = static_cast<uint8_t>(hi >> (8 * k));
        }
      }
      for (; t < nbytes; ++t) {
        const unsigned ma = t + 1 == nbytes ? a[t] & last_mask : a[t];
        const unsigned mb = t + 1 == nbytes ? b[t] & last_mask : b[t];
        out[32 * t] = static_cast<uint8_t>((ma & 0x0F) | (mb << 4));
        out[32 * t + 16] = static_cast<uint8_t>((ma >> 4) | (mb & 0xF0));
      }
    }
  }
  for (; i < n; ++i) add_one(n_ + i, row_codes + i * cs);
}

void FastScanCodes::add_unpacked(size_t n, const uint8_t* row_codes) {
  const int d = tq_.d();
  const size_t cs = tq_.code_size();
  const int nh = tq_.allocation().num_high();
  std::vector<uint8_t> idx(d);
  for (size_t i = 0; i < n; ++i) {
    const size_t v = n_ + i;
    uint8_t* block = data_.data() + (v / kBlock) * block_bytes_;
    const int slot = static_cast<int>(v % kBlock);
    tq_.unpack_indices(row_codes + i * cs, idx.data());
    if (int8_path_) {
      int8_t* row = reinterpret_cast<int8_t*>(block) + size_t(slot) * padded_d_;
      for (int j = 0; j < d; ++j) row[j] = int8_table_[(j < nh ? 256 : 0) + idx[j]];
      continue;
    }
    // Vectors 0..15 of a block take the low nibbles, 16..31 the high ones; the other half is left as it is.
    uint8_t* col = block + (slot & 15);
    const int shift = slot < 16 ? 0 : 4;
    const uint8_t keep = slot < 16 ? 0xF0 : 0x0F;
    const int G = num_groups();
    if (uniform_per_ == 1) {  // 3 and 4 bits: one coordinate per nibble
      for (int g = 0; g < G; ++g) col[size_t(g) * 16] = static_cast<uint8_t>((col[size_t(g) * 16] & keep) | (idx[g] << shift));
    } else {
      for (int g = 0; g < G; ++g) {
        const ScanGroup& grp = groups_[g];
        unsigned nib = 0;
        for (int k = 0; k < grp.count; ++k) nib |= unsigned(idx[grp.first + k] >> grp.shift) << (k * grp.bits);
        col[size_t(g) * 16] = static_cast<uint8_t>((col[size_t(g) * 16] & keep) | (nib << shift));
      }
    }
  }
}

void FastScanCodes::build_lut(const float* qr, QueryLut* out, int lut_max) const {
  TQ_CHECK(qr != nullptr && out != nullptr, "FastScanCodes::build_lut: null query or output");
  TQ_CHECK(lut_max == 63 || lut_max == 127 || lut_max == 255,
           "FastScanCodes::build_lut: lut_max must be 63, 127 or 255, got " << lut_max);
  out->lut_max = lut_max;
  const int d = tq_.d();
  if (int8_path_) {
    float qmax = 0;
    for (int j = 0; j < d; ++j) qmax = std::max(qmax, std::abs(qr[j]));
    out->q8.assign(padded_d_, 0);
    out->lut.clear();
    if (qmax == 0) {
      out->scale = 0;
      out->bias = 0;
      return;
    }
    const float qs = qmax / 127.0f;
    for (int j = 0; j < d; ++j) out->q8[j] = static_cast<int8_t>(std::lround(qr[j] / qs));
    out->scale = qs * int8_scale_;
    out->bias = 0;
    return;
  }
  const int G = num_groups();
  std::vector<float> f(size_t(g2_) * 16, 0.0f);
  std::vector<float> lo(g2_, 0.0f);
  float max_range = 0;
  for (int g = 0; g < G; ++g) {
    const ScanGroup& grp = groups_[g];
    const float* c = group_centroids(grp).data();
    const unsigned mask = (1u << grp.bits) - 1;
    const int used = 1 << (grp.count * grp.bits);
    float mn = INFINITY, mx = -INFINITY;
    for (int e = 0; e < used; ++e) {
      float v = 0;
      for (int k = 0; k < grp.count; ++k) v += qr[grp.first + k] * c[(e >> (k * grp.bits)) & mask];
      f[size_t(g) * 16 + e] = v;
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    for (int e = used; e < 16; ++e) f[size_t(g) * 16 + e] = mn;  // never indexed; keeps the range tight
    lo[g] = mn;
    max_range = std::max(max_range, mx - mn);
  }
  const float top = static_cast<float>(lut_max);
  const float scale = max_range > 0 ? max_range / top : 1.0f;
  const float inv = 1.0f / scale;
  out->lut.assign(size_t(g2_) * 16, 0);
  out->q8.clear();
  double bias = 0;
  for (int g = 0; g < G; ++g) {
    bias += lo[g];
    for (int e = 0; e < 16; ++e) {
      const long v = std::lround((f[size_t(g) * 16 + e] - lo[g]) * inv);
      out->lut[size_t(g) * 16 + e] = static_cast<uint8_t>(std::clamp(v, 0L, long(lut_max)));
    }
  }
  out->scale = scale;
  out->bias = static_cast<float>(bias);
}

}  // namespace tqsearch

namespace tqsearch::internal {

void scan_blocks(SimdLevel level, const FastScanCodes& codes, const uint8_t* blocks, size_t nblocks,
                 const void* const* luts, int nq, int32_t* acc, size_t acc_stride) {
  if (nblocks == 0 || nq == 0) return;
  if (codes.int8_path()) {
    const auto q8 = reinterpret_cast<const int8_t* const*>(luts);
    switch (level) {
      case SimdLevel::kAvx512:  // the AVX2 int8 kernel serves AVX-512 machines too
      case SimdLevel::kAvx2: return scan_int8_avx2(blocks, nblocks, codes.padded_d(), q8, nq, acc, acc_stride);
      case SimdLevel::kScalar: return scan_int8_scalar(blocks, nblocks, codes.padded_d(), q8, nq, acc, acc_stride);
    }
    return;
  }
  const auto l8 = reinterpret_cast<const uint8_t* const*>(luts);
  const int g2 = codes.num_groups_padded();
  switch (level) {
    case SimdLevel::kAvx512: return scan_nibbles_avx512(blocks, nblocks, g2, l8, nq, acc, acc_stride);
    case SimdLevel::kAvx2: return scan_nibbles_avx2(blocks, nblocks, g2, l8, nq, acc, acc_stride);
    case SimdLevel::kScalar: return scan_nibbles_scalar(blocks, nblocks, g2, l8, nq, acc, acc_stride);
  }
}

void scan_fused(SimdLevel level, const FusedScan& s) {
  if (s.nblocks == 0 || s.nq == 0) return;
  TQ_CHECK(s.nvalid <= s.nblocks * FastScanCodes::kBlock, "scan_fused: nvalid " << s.nvalid << " exceeds the blocks");
  if (level >= SimdLevel::kAvx2) return scan_fused_avx2(s);
  scan_fused_scalar(s);
}

float dot_nibbles(SimdLevel level, const uint8_t* code, int d, const float* qr, const float* c) {
  if (level >= SimdLevel::kAvx2) return dot_nibbles_avx2(code, d, qr, c);
  return dot_nibbles_scalar(code, d, qr, c);
}

void accumulators_to_scores(SimdLevel level, const int32_t* acc, size_t n, const float* mult, const float* add,
                            float scale, float bias, float* scores) {
  if (level >= SimdLevel::kAvx2) return accumulators_to_scores_avx2(acc, n, mult, add, scale, bias, scores);
  accumulators_to_scores_scalar(acc, n, mult, add, scale, bias, scores);
}

size_t positions_above(SimdLevel level, const float* scores, size_t n, float threshold, uint32_t* out) {
  if (level >= SimdLevel::kAvx2) return positions_above_avx2(scores, n, threshold, out);
  return positions_above_scalar(scores, n, threshold, out);
}

}  // namespace tqsearch::internal
