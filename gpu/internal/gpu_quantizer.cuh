// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Device-side copy of everything a TurboQuantizer needs to encode and score on one GPU, and the GPU scan
/// layout's description.
///
/// GPU scan layout (ours; row codes stay byte-identical to the CPU): vectors in tiles of 32; a tile is C chunks
/// × 32 vectors × 16 bytes, chunk-major, so a warp reading chunk c of its tile issues one coalesced 512-byte
/// load. Two element kinds:
///  - nibble mode (every coordinate's index fits a shared 16-entry table: integer rates ≤ 4 bits, or fractional
///    rates with 2^hi + 2^lo ≤ 16): 32 coordinates per chunk, 4 bits each: the sign/magnitude code of table index
///    t = idx (high-bit coordinates) or 2^hi + idx (low-bit coordinates of a fractional rate), see nibble_layout.h;
///    int8 value v stands for (v + ½)·tscale. A chunk of a tile is laid out for int8 m16n8k32 tensor-core B
///    fragments: lane 4g + k holds four words, word m for vector g + 8m, each with coordinates 4k..4k+3 and
///    16+4k..16+4k+3 of the chunk (b0, b1 after dequantization). Within a word, for its 8 coordinates with codes
///    c_i = 8·s_i + m_i the bits are
///       [m0 s4 m1 s0 | m2 s5 m3 s1 | m4 s6 m5 s2 | m6 s7 m7 s3]   (m: 3 bits, s: 1 bit, LSB first)
///    so that one byte permute selects magnitudes by m and a sign-replicating permute gives the s mask.
///  - byte mode (anything else, up to 8 bits): 16 coordinates per chunk, one int8 value per coordinate,
///    value = round(c[idx] / tscale), tscale = max|c| / 127 over both codebooks.

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "gpu/internal/device_buffer.cuh"
#include "quant/turbo_quantizer.h"

namespace tqsearch::gpu::internal {

constexpr int kTile = 32;          // vectors per tile
constexpr int kMaxRounds = 64;     // HadamardRotation's limit

/// Plain view of the device constants, passed to kernels by value.
struct QuantView {
  int d = 0;
  // Rotation Π (HadamardRotation): rounds × 2 × p scaled signs (sign/√p, as the CPU applies them).
  int p = 0;
  int rounds = 0;
  const float* rot_signs = nullptr;
  // Bit allocation and codebooks (centroids in coordinate units; boundaries 2^b − 1).
  int low_bits = 0, high_bits = 0, num_high = 0;
  const float* cent_low = nullptr;
  const float* bound_low = nullptr;
  const float* cent_high = nullptr;
  const float* bound_high = nullptr;
  // Row code layout.
  int mse_bytes = 0;
  int code_size = 0;
  int norm_offset = 0;
  bool fp16_norm = false;
  bool fold = false;       // fold_renorm: the norm slot holds ‖x‖/ρ and no ρ is stored
  int renorm_offset = -1;  // -1: not stored (or folded into the norm slot)
  int gamma_offset = -1;   // -1: no QJL
  int sign_offset = -1;
  // QJL: structured sketch S = √d·Π' (Π' a HadamardRotation with qjl_seed), applied on the GPU.
  bool qjl = false;
  bool qjl_structured = false;
  int sk_rounds = 0;
  const float* sk_signs = nullptr;  // rounds × 2 × p, scaled
  float sk_scale = 0;               // float(√d) as the CPU computes it
  float qjl_coef = 0;               // float(κ/d)
  // Scan layout.
  bool nibble = true;
  int dp = 0;          // padded dimension: multiple of 32 (nibble) or 16 (byte)
  int chunks = 0;      // 16-byte chunks per vector
  float tscale = 0;    // int8 value unit (nibble mode: v stands for (v + ½)·tscale)
  uint32_t table_words[2] = {0, 0};  // nibble mode: magnitude table T[0..7], 4 int8 per word, little-endian
  uint8_t nibble_code[16] = {};      // nibble mode: code 8·s + m of table index t
  const int8_t* int8_low = nullptr;   // byte mode: 256-entry value tables
  const int8_t* int8_high = nullptr;
};

/// Owns the device arrays behind a QuantView on one device.
class GpuQuantizer {
 public:
  /// Must be called with `device` current. Uploads signs, codebooks and tables.
  GpuQuantizer(const TurboQuantizer& tq, int device);
  GpuQuantizer(const GpuQuantizer&) = delete;
  GpuQuantizer& operator=(const GpuQuantizer&) = delete;

  const QuantView& view() const { return view_; }
  int device() const { return device_; }
  /// GPU encode possible: Hadamard rotation, structured or no QJL, d fits in shared memory.
  bool encode_supported() const { return encode_supported_; }
  /// Bytes of one tile in the scan layout.
  size_t tile_bytes() const { return size_t(view_.chunks) * kTile * 16; }

 private:
  int device_;
  QuantView view_;
  bool encode_supported_ = false;
  DeviceBuffer<float> rot_signs_, sk_signs_, cent_low_, bound_low_, cent_high_, bound_high_;
  DeviceBuffer<int8_t> int8_low_, int8_high_;
};

}  // namespace tqsearch::gpu::internal
