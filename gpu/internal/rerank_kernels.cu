// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/rerank_kernels.cuh"

#include <algorithm>

#include "gpu/internal/cuda_check.cuh"
#include "gpu/internal/device_common.cuh"
#include "quant/error.h"

namespace tqsearch::gpu::internal {
namespace {

constexpr int kRerankThreads = 1024;  // 32 warps: one or two candidates each for k·rerank_factor ≤ 64

__device__ inline float load_f32(const uint8_t* p) {
  return __uint_as_float(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24));
}

constexpr int kRerankWarps = kRerankThreads / 32;

constexpr int kStage = 1024;  // coordinates staged per pass (floats per warp in shared memory)

/// Adds stage[0, cnt) to acc one by one in order (every lane does the same adds: the CPU's sequential sum).
__device__ __forceinline__ float sequential_sum(float acc, const float* stage, int cnt) {
  int s = 0;
  // 16 values loaded ahead of their adds (the loads do not wait on the add chain); adds stay in order.
  for (; s + 16 <= cnt; s += 16) {
    float4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = *reinterpret_cast<const float4*>(stage + s + 4 * u);
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      acc = __fadd_rn(acc, v[u].x);
      acc = __fadd_rn(acc, v[u].y);
      acc = __fadd_rn(acc, v[u].z);
      acc = __fadd_rn(acc, v[u].w);
    }
  }
  for (; s + 4 <= cnt; s += 4) {
    const float4 v = *reinterpret_cast<const float4*>(stage + s);
    acc = __fadd_rn(acc, v.x);
    acc = __fadd_rn(acc, v.y);
    acc = __fadd_rn(acc, v.z);
    acc = __fadd_rn(acc, v.w);
  }
  for (; s < cnt; ++s) acc = __fadd_rn(acc, stage[s]);
  return acc;
}

__device__ __forceinline__ int bit_start(const QuantView& q, int j) {
  return j < q.num_high ? j * q.high_bits : q.num_high * q.high_bits + (j - q.num_high) * q.low_bits;
}

constexpr int kCodeStage = kStage + 16;  // code bytes of kStage coordinates (≤ 8 bits each) + a straddling byte

/// Estimate for one candidate, computed by one warp with the CPU's arithmetic (TurboQuantizer::dot_rotated /
/// qjl_correction / inner_product; FlatScanner's L2 form 2·ip − n·n). Per stage of kStage coordinates the warp
/// copies the code bytes to shared memory (coalesced), the lanes compute the products in parallel (each a single
/// rounding, as on the CPU; centroids from shared memory) into the warp's shared buffer; lanes 0–7 then add them
/// as dot_rotated's 8 lanes (lane j mod 8, increasing j; kStage is a multiple of 8) and the warp reduces the lanes
/// with its fixed tree, so the float is the CPU's bit for bit. The QJL sign sum stays sequential (as on the CPU).
__device__ float exact_score_warp(const QuantView& q, const RerankArgs& a, int qi, int32_t id, int lane, float* stage,
                                  uint8_t* cbuf, const float* cent_hi, const float* cent_lo) {
  const uint8_t* code = a.row_codes + size_t(id) * q.code_size;
  const float* qr = a.rotated + size_t(qi) * q.d;
  static_assert(kStage % 8 == 0, "stages must start at a multiple of 8: lane t of a stage is lane j mod 8");
  float lane_sum = 0.0f;  // lanes 0–7: dot_rotated's lane `lane`
  for (int j0 = 0; j0 < q.d; j0 += kStage) {
    const int cnt = min(kStage, q.d - j0);
    const int b0 = bit_start(q, j0) >> 3, b1 = (bit_start(q, j0 + cnt) + 7) >> 3;
#pragma unroll 8
    for (int i = lane; i < b1 - b0; i += 32) cbuf[i] = code[b0 + i];  // independent loads in flight together
    __syncwarp();
#pragma unroll 8
    for (int t = lane; t < cnt; t += 32) {
      const int j = j0 + t;
      const bool hi = j < q.num_high;
      const int w = hi ? q.high_bits : q.low_bits;
      const int start = bit_start(q, j) - 8 * b0;
      const int byte = start >> 3, sh = start & 7;
      uint32_t v = cbuf[byte];
      if (sh + w > 8) v |= uint32_t(cbuf[byte + 1]) << 8;
      const int idx = int((v >> sh) & ((1u << w) - 1));
      stage[t] = __fmul_rn(qr[j], (hi ? cent_hi : cent_lo)[idx]);
    }
    __syncwarp();
    if (lane < 8)
      for (int t = lane; t < cnt; t += 8) lane_sum = __fadd_rn(lane_sum, stage[t]);
    __syncwarp();
  }
  float l[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) l[i] = __shfl_sync(0xffffffffu, lane_sum, i);
  // internal::reduce_lanes: ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)).
  const float dot = __fadd_rn(__fadd_rn(__fadd_rn(l[0], l[4]), __fadd_rn(l[2], l[6])),
                              __fadd_rn(__fadd_rn(l[1], l[5]), __fadd_rn(l[3], l[7])));
  float norm;
  if (q.fp16_norm) {
    norm = half_bits_to_float(uint32_t(code[q.norm_offset]) | (uint32_t(code[q.norm_offset + 1]) << 8));
  } else {
    norm = load_f32(code + q.norm_offset);
  }
  float ip;
  if (a.estimator == 1) {  // renorm (folded: the slot holds ‖x‖/ρ, and the CPU's division by ρ = 1 is exact)
    ip = q.fold ? __fmul_rn(norm, dot) : __fdiv_rn(__fmul_rn(norm, dot), load_f32(code + q.renorm_offset));
  } else if (a.estimator == 2) {  // QJL
    const uint8_t* sg = code + q.sign_offset;
    const float* sk = a.sketch + size_t(qi) * q.d;
    float acc = 0.0f;
    for (int j0 = 0; j0 < q.d; j0 += kStage) {
      const int cnt = min(kStage, q.d - j0);
      for (int t = lane; t < cnt; t += 32) {
        const int j = j0 + t;
        stage[t] = ((sg[j >> 3] >> (j & 7)) & 1) ? sk[j] : -sk[j];
      }
      __syncwarp();
      acc = sequential_sum(acc, stage, cnt);
      __syncwarp();
    }
    const float gamma = load_f32(code + q.gamma_offset);
    const float corr = __fmul_rn(__fmul_rn(gamma, q.qjl_coef), acc);
    ip = __fmul_rn(norm, __fadd_rn(dot, corr));
  } else {
    ip = __fmul_rn(norm, dot);
  }
  if (a.l2) return __fsub_rn(2.0f * ip, __fmul_rn(norm, norm));
  return ip;
}

constexpr int kMaxTable = 256;  // centroids per codebook (≤ 8 bits)
constexpr size_t kWarpSmem = sizeof(float) * kStage + kCodeStage;

__global__ void __launch_bounds__(kRerankThreads) rerank_kernel(QuantView q, RerankArgs a, const Cand* __restrict__ cands,
                                                                int kc, int k, int B, Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  float* cent = reinterpret_cast<float*>(smem);  // 2 × kMaxTable: high, then low codebook
  unsigned char* warp_base = smem + sizeof(float) * 2 * kMaxTable;
  Cand* buf = reinterpret_cast<Cand*>(warp_base + kWarpSmem * kRerankWarps);
  const int qi = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float* stage = reinterpret_cast<float*>(warp_base + kWarpSmem * warp);
  uint8_t* cbuf = reinterpret_cast<uint8_t*>(stage + kStage);
  const int nhi = q.num_high > 0 ? (1 << q.high_bits) : 0, nlo = q.num_high < q.d ? (1 << q.low_bits) : 0;
  for (int i = threadIdx.x; i < nhi; i += blockDim.x) cent[i] = q.cent_high[i];
  for (int i = threadIdx.x; i < nlo; i += blockDim.x) cent[kMaxTable + i] = q.cent_low[i];
  for (int i = threadIdx.x; i < B; i += blockDim.x) buf[i] = Cand{-FLT_MAX, INT_MAX};
  __syncthreads();
  for (int i = warp; i < kc; i += kRerankWarps) {
    const Cand in = cands[size_t(qi) * kc + i];  // same for all lanes: uniform branch
    if (in.id < 0) continue;
    const float s = a.rerank ? exact_score_warp(q, a, qi, in.id, lane, stage, cbuf, cent, cent + kMaxTable) : in.s;
    if (lane == 0) buf[i] = Cand{s, in.id};
  }
  bitonic_sort_best_first(buf, B);
  for (int r = threadIdx.x; r < k; r += blockDim.x) {
    Cand c = r < B ? buf[r] : Cand{-FLT_MAX, -1};
    if (c.id == INT_MAX) c.id = -1;
    out[size_t(qi) * k + r] = c;
  }
}

}  // namespace

void launch_rerank_topk(const QuantView& q, const RerankArgs& a, const Cand* cands, int nq, int kc, int k, Cand* out,
                        cudaStream_t stream) {
  if (nq == 0) return;
  int B = 1;
  while (B < kc) B *= 2;
  const size_t smem = sizeof(float) * 2 * kMaxTable + kWarpSmem * kRerankWarps + sizeof(Cand) * B;
  allow_dynamic_smem(rerank_kernel, smem, "GPU rerank");
  rerank_kernel<<<nq, kRerankThreads, smem, stream>>>(q, a, cands, kc, k, B, out);
  TQ_CHECK_LAUNCH("rerank_kernel");
}

}  // namespace tqsearch::gpu::internal
