// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/encode_kernels.cuh"

#include <algorithm>
#include <climits>

#include "gpu/internal/cuda_check.cuh"
#include "gpu/internal/device_buffer.cuh"
#include "gpu/internal/device_common.cuh"

namespace tqsearch::gpu::internal {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr size_t kEncodeSmemTarget = 96 * 1024;

__host__ __device__ inline int row_ld(int d) { return (d % 2 == 0) ? d + 1 : d; }  // odd stride: no bank conflicts

__device__ inline int ilog2(int p) { return 31 - __clz(p); }

/// HadamardRotation::forward on `nrows` rows in shared memory (row stride ld), bit for bit:
/// per round, block [0, p) then (p < d) block [d−p, d): v ← v·s (scaled signs), butterflies h = 1..p/2.
__device__ void rotate_rows(float* xs, int ld, int nrows, int d, int p, int rounds, const float* __restrict__ signs) {
  const int lp = ilog2(p);
  for (int r = 0; r < rounds; ++r) {
    for (int blk = 0; blk < 2; ++blk) {
      if (blk == 1 && p == d) break;
      const int off = blk == 0 ? 0 : d - p;
      const float* s = signs + (size_t(r) * 2 + blk) * p;
      for (int e = threadIdx.x; e < (nrows << lp); e += blockDim.x) {
        const int t = e >> lp, i = e & (p - 1);
        float* v = xs + t * ld + off;
        v[i] = __fmul_rn(v[i], __ldg(s + i));
      }
      __syncthreads();
      if (p >= 2) {
        const int lh = lp - 1;  // p/2 butterflies per row and level
        for (int h = 1; h < p; h *= 2) {
          for (int e = threadIdx.x; e < (nrows << lh); e += blockDim.x) {
            const int t = e >> lh, b = e & ((p >> 1) - 1);
            const int j = (b / h) * 2 * h + (b & (h - 1));
            float* v = xs + t * ld + off;
            const float a = v[j], c = v[j + h];
            v[j] = __fadd_rn(a, c);
            v[j + h] = __fsub_rn(a, c);
          }
          __syncthreads();
        }
      }
    }
  }
}

/// One block of HadamardRotation::forward (signs then butterflies h = 1..p/2) on one row segment v[0, p),
/// p = 32·E, by one warp in registers: lane holds elements lane + 32·j. Levels h < 32 pair lanes (shuffles), levels
/// h ≥ 32 pair registers of a lane. Each butterfly is (a + c, a − c) with single roundings, as on the CPU, so the
/// result is bit-identical to rotate_rows; no block barriers.
template <int E>
__device__ __forceinline__ void fwht_block_warp(float* v, const float* __restrict__ s, int lane) {
  float r[E];
#pragma unroll
  for (int j = 0; j < E; ++j) r[j] = __fmul_rn(v[lane + 32 * j], __ldg(s + lane + 32 * j));
#pragma unroll
  for (int h = 1; h < 32; h <<= 1) {
    const bool upper = (lane & h) != 0;
#pragma unroll
    for (int j = 0; j < E; ++j) {
      const float o = __shfl_xor_sync(0xffffffffu, r[j], h);
      r[j] = upper ? __fsub_rn(o, r[j]) : __fadd_rn(r[j], o);
    }
  }
#pragma unroll
  for (int hj = 1; hj < E; hj <<= 1) {
#pragma unroll
    for (int j = 0; j < E; ++j) {
      if (j & hj) continue;
      const float a = r[j], c = r[j + hj];
      r[j] = __fadd_rn(a, c);
      r[j + hj] = __fsub_rn(a, c);
    }
  }
#pragma unroll
  for (int j = 0; j < E; ++j) v[lane + 32 * j] = r[j];
}

template <int E>
__device__ void rotate_rows_warp_impl(float* xs, int ld, int nrows, int d, int p, int rounds,
                                      const float* __restrict__ signs) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int t = warp; t < nrows; t += nw) {  // every pass of row t by the same warp: __syncwarp orders them
    for (int r = 0; r < rounds; ++r) {
      for (int blk = 0; blk < 2; ++blk) {
        if (blk == 1 && p == d) break;
        const int off = blk == 0 ? 0 : d - p;
        fwht_block_warp<E>(xs + t * ld + off, signs + (size_t(r) * 2 + blk) * p, lane);
        __syncwarp();
      }
    }
  }
  __syncthreads();
}

/// rotate_rows, with one warp per row in registers when 32 ≤ p ≤ 1024 (few rows: no block barrier per level).
__device__ void rotate_rows_fast(float* xs, int ld, int nrows, int d, int p, int rounds,
                                 const float* __restrict__ signs) {
  switch (p) {
    case 32: return rotate_rows_warp_impl<1>(xs, ld, nrows, d, p, rounds, signs);
    case 64: return rotate_rows_warp_impl<2>(xs, ld, nrows, d, p, rounds, signs);
    case 128: return rotate_rows_warp_impl<4>(xs, ld, nrows, d, p, rounds, signs);
    case 256: return rotate_rows_warp_impl<8>(xs, ld, nrows, d, p, rounds, signs);
    case 512: return rotate_rows_warp_impl<16>(xs, ld, nrows, d, p, rounds, signs);
    case 1024: return rotate_rows_warp_impl<32>(xs, ld, nrows, d, p, rounds, signs);
    default: return rotate_rows(xs, ld, nrows, d, p, rounds, signs);
  }
}

__device__ inline int bits_of(const QuantView& q, int j) { return j < q.num_high ? q.high_bits : q.low_bits; }
__device__ inline int bit_start(const QuantView& q, int j) {
  return j < q.num_high ? j * q.high_bits : q.num_high * q.high_bits + (j - q.num_high) * q.low_bits;
}

/// Number of boundaries strictly below y (ties to the lower cell), as TurboQuantizer's quantize_range.
__device__ inline int quantize(const float* bnd, int bits, float y) {
  const int nb = (1 << bits) - 1;
  int lo = 0;
  for (int step = (nb + 1) / 2; step >= 1; step /= 2) lo += (y > bnd[lo + step - 1]) ? step : 0;
  return lo;
}

/// Packs byte k of the mse bit stream (LSB first over coordinates) from idx (d entries).
__device__ inline uint8_t pack_byte(const QuantView& q, const uint8_t* idx, int k) {
  const int P0 = 8 * k;
  const int HB = q.num_high * q.high_bits;
  int j = P0 < HB ? P0 / q.high_bits : q.num_high + (P0 - HB) / q.low_bits;
  if (j >= q.d) return 0;
  const int shift = P0 - bit_start(q, j);
  uint32_t acc = uint32_t(idx[j]) >> shift;
  int filled = bits_of(q, j) - shift;
  while (filled < 8 && ++j < q.d) {
    acc |= uint32_t(idx[j]) << filled;
    filled += bits_of(q, j);
  }
  return static_cast<uint8_t>(acc & 0xFFu);
}

/// Index of coordinate j from a row code's bit stream.
__device__ inline int unpack_index(const QuantView& q, const uint8_t* code, int j) {
  const int start = bit_start(q, j), w = bits_of(q, j);
  const int byte = start >> 3, sh = start & 7;
  uint32_t v = code[byte];
  if (sh + w > 8) v |= uint32_t(code[byte + 1]) << 8;
  return int((v >> sh) & ((1u << w) - 1));
}

__device__ inline void store_f32(uint8_t* p, float v) {
  const uint32_t u = __float_as_uint(v);
  p[0] = u & 0xFF;
  p[1] = (u >> 8) & 0xFF;
  p[2] = (u >> 16) & 0xFF;
  p[3] = u >> 24;
}
__device__ inline float load_f32(const uint8_t* p) {
  return __uint_as_float(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24));
}
/// Write the norm slot (f32, or f16 with fp16_norm); false when the value does not fit (Inf).
__device__ inline bool store_norm_slot(const QuantView& q, uint8_t* code, float v) {
  if (q.fp16_norm) {
    const uint32_t h = float_to_half_bits(v);
    code[q.norm_offset] = static_cast<uint8_t>(h & 0xFFu);
    code[q.norm_offset + 1] = static_cast<uint8_t>(h >> 8);
    return (h & 0x7c00u) != 0x7c00u;
  }
  store_f32(code + q.norm_offset, v);
  return isfinite(v);
}
__device__ inline float load_norm(const QuantView& q, const uint8_t* code) {
  if (q.fp16_norm) {
    return half_bits_to_float(uint32_t(code[q.norm_offset]) | (uint32_t(code[q.norm_offset + 1]) << 8));
  }
  return load_f32(code + q.norm_offset);
}

/// Scan layout words and factors for rows [0, nrows) whose indices are in idx_s (row stride d) and whose code
/// bytes (for the norm and ρ) are in code_s (row stride code_size).
__device__ void write_layout(const QuantView& q, const uint8_t* idx_s, const uint8_t* code_s, int nrows,
                             size_t vbase, const EncodeTarget& out) {
  uint32_t* words = reinterpret_cast<uint32_t*>(out.scan_tiles);
  const int C = q.chunks;
  if (q.nibble) {
    const int nh_entries = q.num_high > 0 ? (1 << q.high_bits) : 0;
    // Word (chunk c, quarter k) of vector v holds coordinates 32c + 4k + [0, 4) and 32c + 16 + 4k + [0, 4): the
    // two int8x4 operands of an m16n8k32 B fragment. It goes to lane 4·(v mod 8) + k, component (v mod 32) / 8.
    const int wpr = q.dp / 8;  // words per row
    for (int e = threadIdx.x; e < nrows * wpr; e += blockDim.x) {
      const int t = e / wpr, w = e % wpr;
      const int c = w / 4, k = w % 4;
      uint32_t tv[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int j = 32 * c + (i < 4 ? 4 * k + i : 16 + 4 * k + (i - 4));
        // Table index → sign/magnitude code; padding coordinates get code 0 (their query values are 0).
        tv[i] = j < q.d ? q.nibble_code[idx_s[t * q.d + j] + (j < q.num_high ? 0 : nh_entries)] : 0u;
      }
      const size_t v = vbase + t;
      const size_t tile = v / kTile;
      const int vl = static_cast<int>(v % kTile);
      words[((tile * C + c) * kTile + 4 * (vl % 8) + k) * 4 + vl / 8] = pack_nibble_word(tv);
    }
  } else {
    const int wpr = q.dp / 4;
    for (int e = threadIdx.x; e < nrows * wpr; e += blockDim.x) {
      const int t = e / wpr, g = e % wpr;
      uint32_t word = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int j = 4 * g + i;
        if (j < q.d) {
          const int8_t val = (j < q.num_high ? q.int8_high : q.int8_low)[idx_s[t * q.d + j]];
          word |= uint32_t(uint8_t(val)) << (8 * i);
        }
      }
      const size_t v = vbase + t;
      const size_t tile = v / kTile, lane = v % kTile;
      words[((tile * C + g / 4) * kTile + lane) * 4 + (g % 4)] = word;
    }
  }
  for (int t = threadIdx.x; t < nrows; t += blockDim.x) {
    const uint8_t* code = code_s + size_t(t) * q.code_size;
    const float norm = load_norm(q, code);
    const float rho = q.renorm_offset >= 0 ? load_f32(code + q.renorm_offset) : 1.0f;
    out.norm[vbase + t] = norm;
    out.renorm[vbase + t] = __fdiv_rn(norm, rho);
    out.sqnorm[vbase + t] = __fmul_rn(norm, norm);
  }
}

struct EncodeSmem {
  float* xs;        // nrows × ld
  uint8_t* idx;     // nrows × d
  uint8_t* code;    // nrows × code_size
  float* inv;       // nrows
  float* norm;      // nrows: ‖x‖ as stored (f32), for ‖x‖/ρ of fold_renorm
  float* bounds;    // 2 × 256: low, high
};

__device__ EncodeSmem carve(unsigned char* smem, const QuantView& q, int vb) {
  EncodeSmem s;
  size_t off = 0;
  s.xs = reinterpret_cast<float*>(smem + off);
  off += sizeof(float) * size_t(vb) * row_ld(q.d);
  s.inv = reinterpret_cast<float*>(smem + off);
  off += sizeof(float) * vb;
  s.norm = reinterpret_cast<float*>(smem + off);
  off += sizeof(float) * vb;
  s.bounds = reinterpret_cast<float*>(smem + off);
  off += sizeof(float) * 512;
  s.idx = smem + off;
  off += size_t(vb) * q.d;
  s.code = smem + off;
  return s;
}

__host__ size_t encode_smem_bytes(int d, int code_size, int vb) {
  return sizeof(float) * size_t(vb) * row_ld(d) + 2 * sizeof(float) * vb + sizeof(float) * 512 + size_t(vb) * d +
         size_t(vb) * code_size + 16;
}

__global__ void __launch_bounds__(kThreads) encode_kernel(QuantView q, const float* __restrict__ x, size_t n, int vb,
                                                          EncodeTarget out) {
  extern __shared__ __align__(16) unsigned char smem[];
  const EncodeSmem s = carve(smem, q, vb);
  const int d = q.d, ld = row_ld(d);
  const size_t r0 = size_t(blockIdx.x) * vb;
  const int nrows = static_cast<int>(min(size_t(vb), n - r0));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  for (int i = threadIdx.x; i < 512; i += blockDim.x) {
    const int b = i & 255;
    const bool hi = i >= 256;
    const int nb = (1 << (hi ? q.high_bits : q.low_bits)) - 1;
    s.bounds[i] = b < nb ? (hi ? q.bound_high : q.bound_low)[b] : 0.0f;
  }
  for (size_t e = threadIdx.x; e < size_t(nrows) * d; e += blockDim.x) {
    const int t = static_cast<int>(e / d), j = static_cast<int>(e % d);
    s.xs[t * ld + j] = x[(r0 + t) * d + j];
  }
  for (int e = threadIdx.x; e < nrows * q.code_size; e += blockDim.x) s.code[e] = 0;
  __syncthreads();

  // ‖x‖ (double sum of exact products), 1/‖x‖; store the norm (f32 or f16) and, for zero vectors, ρ = 1.
  for (int t = warp; t < nrows; t += kWarps) {
    double ss = 0;
    for (int j = lane; j < d; j += 32) {
      const double v = s.xs[t * ld + j];
      ss += v * v;
    }
    ss = warp_sum(ss);
    if (lane == 0) {
      const float norm = static_cast<float>(sqrt(ss));
      uint8_t* code = s.code + size_t(t) * q.code_size;
      s.norm[t] = norm;
      // Folded rows get ‖x‖/ρ below (a zero row keeps 0); a value the slot cannot hold marks the row bad.
      const bool fits = q.fold || store_norm_slot(q, code, norm);
      s.inv[t] = norm == 0 ? 0.0f : static_cast<float>(1.0 / sqrt(ss));
      if (!isfinite(norm) || !fits) atomicMin(out.bad_norm_row, static_cast<unsigned long long>(out.first + r0 + t));
      if (norm == 0 && q.renorm_offset >= 0) store_f32(code + q.renorm_offset, 1.0f);
    }
  }
  __syncthreads();
  for (size_t e = threadIdx.x; e < size_t(nrows) * d; e += blockDim.x) {
    const int t = static_cast<int>(e / d), j = static_cast<int>(e % d);
    s.xs[t * ld + j] = __fmul_rn(s.xs[t * ld + j], s.inv[t]);
  }
  __syncthreads();
  rotate_rows(s.xs, ld, nrows, d, q.p, q.rounds, q.rot_signs);

  // Indices (zero vectors keep index 0, as the CPU's zeroed code).
  for (size_t e = threadIdx.x; e < size_t(nrows) * d; e += blockDim.x) {
    const int t = static_cast<int>(e / d), j = static_cast<int>(e % d);
    const bool hi = j < q.num_high;
    s.idx[e] = s.inv[t] == 0.0f ? 0 : uint8_t(quantize(s.bounds + (hi ? 256 : 0), hi ? q.high_bits : q.low_bits,
                                                      s.xs[t * ld + j]));
  }
  __syncthreads();

  // ρ = ⟨y, ŷ⟩, r = y − ŷ (in place), γ = ‖r‖.
  const bool need_rho = q.renorm_offset >= 0 || q.fold || q.qjl;
  if (need_rho) {
    for (int t = warp; t < nrows; t += kWarps) {
      if (s.inv[t] == 0.0f) continue;
      double rho = 0, g = 0;
      for (int j = lane; j < d; j += 32) {
        const float yh = (j < q.num_high ? q.cent_high : q.cent_low)[s.idx[t * d + j]];
        const float y = s.xs[t * ld + j];
        rho += double(y) * double(yh);
        const float r = __fsub_rn(y, yh);
        s.xs[t * ld + j] = r;
        g += double(r) * double(r);
      }
      rho = warp_sum(rho);
      g = warp_sum(g);
      if (lane == 0) {
        uint8_t* code = s.code + size_t(t) * q.code_size;
        if (q.renorm_offset >= 0) store_f32(code + q.renorm_offset, static_cast<float>(fmax(rho, 1e-6)));
        if (q.fold && !store_norm_slot(q, code, __fdiv_rn(s.norm[t], static_cast<float>(fmax(rho, 1e-6)))))
          atomicMin(out.bad_norm_row, static_cast<unsigned long long>(out.first + r0 + t));
        if (q.qjl) store_f32(code + q.gamma_offset, static_cast<float>(sqrt(g)));
      }
    }
    __syncthreads();
  }
  if (q.qjl) {  // sign(S·r), S = √d·Π' (structured; Gaussian sketches are encoded on the CPU)
    rotate_rows(s.xs, ld, nrows, d, q.p, q.sk_rounds, q.sk_signs);
    const int nsb = (d + 7) / 8;
    for (int e = threadIdx.x; e < nrows * nsb; e += blockDim.x) {
      const int t = e / nsb, b = e % nsb;
      if (s.inv[t] == 0.0f) continue;
      uint32_t byte = 0;
      for (int i = 0; i < 8 && 8 * b + i < d; ++i) {
        const float v = __fmul_rn(s.xs[t * ld + 8 * b + i], q.sk_scale);
        byte |= (v >= 0 ? 1u : 0u) << i;
      }
      s.code[size_t(t) * q.code_size + q.sign_offset + b] = static_cast<uint8_t>(byte);
    }
  }
  for (int e = threadIdx.x; e < nrows * q.mse_bytes; e += blockDim.x) {
    const int t = e / q.mse_bytes, k = e % q.mse_bytes;
    s.code[size_t(t) * q.code_size + k] = pack_byte(q, s.idx + size_t(t) * d, k);
  }
  __syncthreads();
  uint8_t* dst = out.row_codes + r0 * q.code_size;
  for (int e = threadIdx.x; e < nrows * q.code_size; e += blockDim.x) dst[e] = s.code[e];
  write_layout(q, s.idx, s.code, nrows, out.first + r0, out);
}

__global__ void __launch_bounds__(kThreads) layout_kernel(QuantView q, const uint8_t* __restrict__ codes, size_t n,
                                                          int vb, EncodeTarget out) {
  extern __shared__ __align__(16) unsigned char smem[];
  const size_t r0 = size_t(blockIdx.x) * vb;
  const int nrows = static_cast<int>(min(size_t(vb), n - r0));
  uint8_t* code_s = smem;
  uint8_t* idx_s = smem + size_t(vb) * q.code_size;
  const uint8_t* src = codes + r0 * q.code_size;
  for (int e = threadIdx.x; e < nrows * q.code_size; e += blockDim.x) code_s[e] = src[e];
  __syncthreads();
  for (int e = threadIdx.x; e < nrows * q.d; e += blockDim.x) {
    const int t = e / q.d, j = e % q.d;
    idx_s[e] = static_cast<uint8_t>(unpack_index(q, code_s + size_t(t) * q.code_size, j));
  }
  __syncthreads();
  write_layout(q, idx_s, code_s, nrows, out.first + r0, out);
}

__global__ void __launch_bounds__(kThreads) prepare_kernel(QuantView q, const float* __restrict__ queries, size_t nq,
                                                           int vb, float* rotated, float* qnorm, int8_t* q8,
                                                           float* qscale, int* qsum, float* sketch) {
  extern __shared__ __align__(16) unsigned char smem[];
  float* xs = reinterpret_cast<float*>(smem);
  float* scl = xs + size_t(vb) * row_ld(q.d);
  int* sum_s = reinterpret_cast<int*>(scl + vb);
  const int d = q.d, ld = row_ld(d);
  const size_t r0 = size_t(blockIdx.x) * vb;
  const int nrows = static_cast<int>(min(size_t(vb), nq - r0));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int e = threadIdx.x; e < nrows * d; e += blockDim.x) {
    const int t = e / d, j = e % d;
    xs[t * ld + j] = queries[(r0 + t) * d + j];
  }
  __syncthreads();
  for (int t = warp; t < nrows; t += kWarps) {
    double ss = 0;
    for (int j = lane; j < d; j += 32) {
      const double v = xs[t * ld + j];
      ss += v * v;
    }
    ss = warp_sum(ss);
    // ss is a sum of squares of floats in double: it cannot overflow, so it is finite exactly when every value is.
    // A non-finite query gets ‖q‖ = NaN, which the host turns into an error.
    if (lane == 0) qnorm[r0 + t] = isfinite(ss) ? static_cast<float>(sqrt(ss)) : __int_as_float(0x7fffffff);
  }
  __syncthreads();  // the norms read xs; the rotation writes it
  rotate_rows_fast(xs, ld, nrows, d, q.p, q.rounds, q.rot_signs);
  for (int t = warp; t < nrows; t += kWarps) {
    float m = 0;
    for (int j = lane; j < d; j += 32) m = fmaxf(m, fabsf(xs[t * ld + j]));
    m = warp_max(m);
    if (lane == 0) {
      scl[t] = m / 127.0f;
      qscale[r0 + t] = m / 127.0f;
      sum_s[t] = 0;
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < nrows * q.dp; e += blockDim.x) {
    const int t = e / q.dp, j = e % q.dp;
    const float v = j < d ? xs[t * ld + j] : 0.0f;
    if (j < d) rotated[(r0 + t) * d + j] = v;
    const float sc = scl[t];
    const int iv = sc > 0 ? max(-127, min(127, __float2int_rn(v / sc))) : 0;
    q8[(r0 + t) * q.dp + j] = static_cast<int8_t>(iv);
    if (q.nibble) {
      // Σ of the row's int8 values: a warp's 32 consecutive elements lie in one row (nibble mode: dp is a multiple
      // of 32, so are nrows·dp and the block size, and whole warps run this loop).
      int ws = iv;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) ws += __shfl_xor_sync(0xffffffffu, ws, o);
      if (lane == 0) atomicAdd(&sum_s[t], ws);
    }
  }
  if (qsum != nullptr && q.nibble) {
    __syncthreads();
    for (int t = threadIdx.x; t < nrows; t += blockDim.x) qsum[r0 + t] = sum_s[t];
  }
  if (sketch != nullptr) {
    __syncthreads();
    rotate_rows_fast(xs, ld, nrows, d, q.p, q.sk_rounds, q.sk_signs);
    for (int e = threadIdx.x; e < nrows * d; e += blockDim.x) {
      const int t = e / d, j = e % d;
      sketch[(r0 + t) * d + j] = __fmul_rn(xs[t * ld + j], q.sk_scale);
    }
  }
}

__global__ void nonfinite_kernel(const float* __restrict__ x, size_t total, int d, unsigned long long* first_bad) {
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x) {
    if (!isfinite(x[e])) atomicMin(first_bad, static_cast<unsigned long long>(e / d));
  }
}

int max_dynamic_smem() {
  int dev = 0, v = 0;
  TQ_CUDA_CHECK(cudaGetDevice(&dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return v;
}

template <typename K>
void set_smem(K kernel, size_t bytes) {
  allow_dynamic_smem(kernel, bytes, "GPU encode");
}

}  // namespace

EncodeShape encode_shape(const QuantView& q) {
  const size_t per = encode_smem_bytes(q.d, q.code_size, 1) - encode_smem_bytes(q.d, q.code_size, 0);
  const size_t fixed = encode_smem_bytes(q.d, q.code_size, 0);
  EncodeShape s;
  s.vectors_per_block = static_cast<int>(std::clamp<size_t>((kEncodeSmemTarget - std::min(kEncodeSmemTarget, fixed)) / per,
                                                            1, 64));
  s.smem_bytes = encode_smem_bytes(q.d, q.code_size, s.vectors_per_block);
  return s;
}

int64_t find_nonfinite_rows(const float* x, size_t n, int d, cudaStream_t stream) {
  if (n == 0) return -1;
  DeviceBuffer<unsigned long long> flag(1, "non-finite flag");
  const unsigned long long init = ULLONG_MAX;
  TQ_CUDA_CHECK(cudaMemcpyAsync(flag.get(), &init, sizeof(init), cudaMemcpyHostToDevice, stream));
  const size_t total = n * size_t(d);
  const int blocks = static_cast<int>(std::min<size_t>((total + 255) / 256, 4096));
  nonfinite_kernel<<<blocks, 256, 0, stream>>>(x, total, d, flag.get());
  TQ_CHECK_LAUNCH("nonfinite_kernel");
  unsigned long long r = 0;
  TQ_CUDA_CHECK(cudaMemcpyAsync(&r, flag.get(), sizeof(r), cudaMemcpyDeviceToHost, stream));
  TQ_CUDA_CHECK(cudaStreamSynchronize(stream));
  return r == ULLONG_MAX ? -1 : static_cast<int64_t>(r);
}

void launch_encode(const QuantView& q, const float* x, size_t n, const EncodeTarget& out, cudaStream_t stream) {
  if (n == 0) return;
  const EncodeShape sh = encode_shape(q);
  TQ_CHECK(sh.smem_bytes <= size_t(max_dynamic_smem()),
           "GPU encode: d = " << q.d << " needs " << sh.smem_bytes << " bytes of shared memory per block, the device "
                              << "allows " << max_dynamic_smem());
  set_smem(encode_kernel, sh.smem_bytes);
  const size_t blocks = (n + sh.vectors_per_block - 1) / sh.vectors_per_block;
  TQ_CHECK(blocks <= 0x7fffffffu, "GPU encode: too many rows in one call (" << n << ")");
  encode_kernel<<<static_cast<unsigned>(blocks), kThreads, sh.smem_bytes, stream>>>(q, x, n, sh.vectors_per_block,
                                                                                      out);
  TQ_CHECK_LAUNCH("encode_kernel");
}

void launch_layout_from_codes(const QuantView& q, const uint8_t* row_codes, size_t n, const EncodeTarget& out,
                              cudaStream_t stream) {
  if (n == 0) return;
  const size_t per = size_t(q.code_size) + q.d;
  const int vb = static_cast<int>(std::clamp<size_t>(kEncodeSmemTarget / per, 1, 64));
  const size_t smem = per * vb;
  TQ_CHECK(smem <= size_t(max_dynamic_smem()), "GPU layout: d = " << q.d << " needs " << smem
                                                                  << " bytes of shared memory per block");
  set_smem(layout_kernel, smem);
  const size_t blocks = (n + vb - 1) / vb;
  layout_kernel<<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(q, row_codes, n, vb, out);
  TQ_CHECK_LAUNCH("layout_kernel");
}

void launch_prepare_queries(const QuantView& q, const float* queries, size_t nq, float* rotated, float* qnorm,
                            int8_t* q8, float* qscale, int* qsum, float* sketch, cudaStream_t stream) {
  if (nq == 0) return;
  const size_t per = sizeof(float) * (row_ld(q.d) + 2);  // row, scale, int8 sum
  int dev = 0, sms = 1;
  TQ_CUDA_CHECK(cudaGetDevice(&dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  // Enough blocks to cover the GPU before packing several queries per block.
  const size_t want = std::max<size_t>(1, nq / (2 * size_t(sms)));
  const int vb = static_cast<int>(std::clamp<size_t>(std::min(kEncodeSmemTarget / per, want), 1, 32));
  const size_t smem = per * vb;
  TQ_CHECK(smem <= size_t(max_dynamic_smem()), "GPU query preparation: d = " << q.d << " needs " << smem
                                                                             << " bytes of shared memory per block");
  set_smem(prepare_kernel, smem);
  const size_t blocks = (nq + vb - 1) / vb;
  prepare_kernel<<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(q, queries, nq, vb, rotated, qnorm, q8,
                                                                            qscale, qsum, sketch);
  TQ_CHECK_LAUNCH("prepare_kernel");
}

}  // namespace tqsearch::gpu::internal
