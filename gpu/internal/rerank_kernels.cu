// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/rerank_kernels.cuh"

#include <algorithm>

#include "gpu/internal/cuda_check.cuh"
#include "gpu/internal/device_common.cuh"
#include "quant/error.h"

namespace tqsearch::gpu::internal {
namespace {

constexpr int kRerankThreads = 512;

__device__ inline float load_f32(const uint8_t* p) {
  return __uint_as_float(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24));
}

constexpr int kRerankWarps = kRerankThreads / 32;

constexpr int kStage = 1024;  // coordinates staged per pass (floats per warp in shared memory)

/// Adds stage[0, cnt) to acc one by one in order (every lane does the same adds: the CPU's sequential sum).
__device__ __forceinline__ float sequential_sum(float acc, const float* stage, int cnt) {
  int s = 0;
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

/// Estimate for one candidate, computed by one warp with the CPU's arithmetic (TurboQuantizer::dot_rotated /
/// qjl_correction / inner_product; FlatScanner's L2 form 2·ip − n·n). The lanes compute up to kStage products in
/// parallel (each a single rounding, as on the CPU) into the warp's shared buffer, then add them in coordinate
/// order, so the float sum is the CPU's sequential sum bit for bit while the loads overlap.
__device__ float exact_score_warp(const QuantView& q, const RerankArgs& a, int qi, int32_t id, int lane, float* stage) {
  const uint8_t* code = a.row_codes + size_t(id) * q.code_size;
  const float* qr = a.rotated + size_t(qi) * q.d;
  float dot = 0.0f;
  for (int j0 = 0; j0 < q.d; j0 += kStage) {
    const int cnt = min(kStage, q.d - j0);
    for (int t = lane; t < cnt; t += 32) {
      const int j = j0 + t;
      const bool hi = j < q.num_high;
      const int w = hi ? q.high_bits : q.low_bits;
      const int start = hi ? j * q.high_bits : q.num_high * q.high_bits + (j - q.num_high) * q.low_bits;
      const int byte = start >> 3, sh = start & 7;
      uint32_t v = code[byte];
      if (sh + w > 8) v |= uint32_t(code[byte + 1]) << 8;
      const int idx = int((v >> sh) & ((1u << w) - 1));
      stage[t] = __fmul_rn(qr[j], __ldg((hi ? q.cent_high : q.cent_low) + idx));
    }
    __syncwarp();
    dot = sequential_sum(dot, stage, cnt);
    __syncwarp();
  }
  float norm;
  if (q.fp16_norm) {
    norm = half_bits_to_float(uint32_t(code[q.norm_offset]) | (uint32_t(code[q.norm_offset + 1]) << 8));
  } else {
    norm = load_f32(code + q.norm_offset);
  }
  float ip;
  if (a.estimator == 1) {  // renorm
    ip = __fdiv_rn(__fmul_rn(norm, dot), load_f32(code + q.renorm_offset));
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

__global__ void __launch_bounds__(kRerankThreads) rerank_kernel(QuantView q, RerankArgs a, const Cand* __restrict__ cands,
                                                                int kc, int k, int B, Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  float* stage_all = reinterpret_cast<float*>(smem);
  Cand* buf = reinterpret_cast<Cand*>(smem + sizeof(float) * kStage * kRerankWarps);
  const int qi = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float* stage = stage_all + warp * kStage;
  for (int i = threadIdx.x; i < B; i += blockDim.x) buf[i] = Cand{-FLT_MAX, INT_MAX};
  __syncthreads();
  for (int i = warp; i < kc; i += kRerankWarps) {
    const Cand in = cands[size_t(qi) * kc + i];  // same for all lanes: uniform branch
    if (in.id < 0) continue;
    const float s = a.rerank ? exact_score_warp(q, a, qi, in.id, lane, stage) : in.s;
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
  const size_t smem = sizeof(float) * kStage * kRerankWarps + sizeof(Cand) * B;
  TQ_CUDA_CHECK(cudaFuncSetAttribute(rerank_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  rerank_kernel<<<nq, kRerankThreads, smem, stream>>>(q, a, cands, kc, k, B, out);
  TQ_CHECK_LAUNCH("rerank_kernel");
}

}  // namespace tqsearch::gpu::internal
