// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/refine_kernels.cuh"

#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>
#include <climits>

#include "gpu/internal/cuda_check.cuh"
#include "quant/error.h"

namespace tqsearch::gpu::internal {
namespace {

constexpr int kRefineThreads = 1024;  // 32 warps: candidates re-scored in parallel
constexpr int kRefineWarps = kRefineThreads / 32;

__device__ __forceinline__ float warp_sum_f(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ void acc_term(float q, float x, bool l2, float& acc) {
  if (l2) {
    const float t = q - x;
    acc = fmaf(t, t, acc);
  } else {
    acc = fmaf(q, x, acc);
  }
}

/// ⟨q, x⟩ or ‖q − x‖² for one row, by one warp (all lanes get the result).
template <bool FP16>
__device__ float row_score(const void* vectors, int d, const float* qv, int32_t id, bool l2, int lane) {
  float acc = 0.0f;
  if constexpr (FP16) {
    const __half* x = static_cast<const __half*>(vectors) + size_t(id) * d;
    if ((d & 7) == 0) {  // 16-byte loads: 8 halves per lane and step
      const uint4* xv = reinterpret_cast<const uint4*>(x);
#pragma unroll 4
      for (int c = lane; c < d / 8; c += 32) {
        const uint4 w = __ldg(xv + c);
        const __half2* h = reinterpret_cast<const __half2*>(&w);
        const float4 qa = *reinterpret_cast<const float4*>(qv + 8 * c);
        const float4 qb = *reinterpret_cast<const float4*>(qv + 8 * c + 4);
        const float2 f0 = __half22float2(h[0]), f1 = __half22float2(h[1]), f2 = __half22float2(h[2]),
                     f3 = __half22float2(h[3]);
        acc_term(qa.x, f0.x, l2, acc);
        acc_term(qa.y, f0.y, l2, acc);
        acc_term(qa.z, f1.x, l2, acc);
        acc_term(qa.w, f1.y, l2, acc);
        acc_term(qb.x, f2.x, l2, acc);
        acc_term(qb.y, f2.y, l2, acc);
        acc_term(qb.z, f3.x, l2, acc);
        acc_term(qb.w, f3.y, l2, acc);
      }
    } else {
      for (int j = lane; j < d; j += 32) acc_term(qv[j], __half2float(x[j]), l2, acc);
    }
  } else {
    const float* x = static_cast<const float*>(vectors) + size_t(id) * d;
    if ((d & 3) == 0) {
      const float4* xv = reinterpret_cast<const float4*>(x);
#pragma unroll 4
      for (int c = lane; c < d / 4; c += 32) {
        const float4 w = __ldg(xv + c);
        const float4 qa = *reinterpret_cast<const float4*>(qv + 4 * c);
        acc_term(qa.x, w.x, l2, acc);
        acc_term(qa.y, w.y, l2, acc);
        acc_term(qa.z, w.z, l2, acc);
        acc_term(qa.w, w.w, l2, acc);
      }
    } else {
      for (int j = lane; j < d; j += 32) acc_term(qv[j], x[j], l2, acc);
    }
  }
  return warp_sum_f(acc);
}

template <bool FP16>
__global__ void __launch_bounds__(kRefineThreads) refine_kernel(RefineArgs a, const Cand* __restrict__ cands, int ld,
                                                                int kin, int k, int B, Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  Cand* buf = reinterpret_cast<Cand*>(smem);
  const int qi = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int i = threadIdx.x; i < B; i += blockDim.x) buf[i] = Cand{-FLT_MAX, INT_MAX};
  __syncthreads();
  const float* qv = a.queries + size_t(qi) * a.d;
  for (int i = warp; i < kin; i += kRefineWarps) {
    const Cand in = cands[size_t(qi) * ld + i];  // uniform over the warp
    if (in.id < 0) continue;
    const float r = row_score<FP16>(a.vectors, a.d, qv, in.id, a.l2, lane);
    if (lane == 0) buf[i] = Cand{a.l2 ? -r : r, in.id};
  }
  bitonic_sort_best_first(buf, B);
  for (int r = threadIdx.x; r < k; r += blockDim.x) {
    Cand c = r < B ? buf[r] : Cand{-FLT_MAX, -1};
    if (c.id == INT_MAX) c.id = -1;
    out[size_t(qi) * k + r] = c;
  }
}

__global__ void store_raw_kernel(const float* __restrict__ x, size_t total, int d, bool fp16, void* dst,
                                 unsigned long long* bad_row, size_t row_base) {
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x) {
    const float v = x[e];
    if (fp16) {
      if (fabsf(v) > 65504.0f) atomicMin(bad_row, static_cast<unsigned long long>(row_base + e / d));
      static_cast<__half*>(dst)[e] = __float2half_rn(v);
    } else {
      static_cast<float*>(dst)[e] = v;
    }
  }
}

}  // namespace

void launch_refine_topk(const RefineArgs& a, const Cand* cands, int ld, int nq, int kin, int k, Cand* out,
                        cudaStream_t stream) {
  if (nq == 0) return;
  TQ_CHECK(kin >= 1 && k >= 1 && ld >= kin,
           "GPU refine: needs 1 <= candidates <= row stride and k >= 1 (got " << kin << ", " << ld << ", " << k << ")");
  TQ_CHECK(reinterpret_cast<uintptr_t>(a.queries) % 16 == 0, "GPU refine: query buffer must be 16-byte aligned");
  int B = 1;
  while (B < kin) B *= 2;
  const size_t smem = sizeof(Cand) * B;
  if (a.fp16) {
    allow_dynamic_smem(refine_kernel<true>, smem, "GPU refine");
    refine_kernel<true><<<nq, kRefineThreads, smem, stream>>>(a, cands, ld, kin, k, B, out);
  } else {
    allow_dynamic_smem(refine_kernel<false>, smem, "GPU refine");
    refine_kernel<false><<<nq, kRefineThreads, smem, stream>>>(a, cands, ld, kin, k, B, out);
  }
  TQ_CHECK_LAUNCH("refine_kernel");
}

void launch_store_raw(const float* x, size_t n, int d, bool fp16, void* dst, unsigned long long* bad_row,
                      size_t row_base, cudaStream_t stream) {
  const size_t total = n * size_t(d);
  if (total == 0) return;
  const int blocks = static_cast<int>(std::min<size_t>((total + 255) / 256, 8192));
  store_raw_kernel<<<blocks, 256, 0, stream>>>(x, total, d, fp16, dst, bad_row, row_base);
  TQ_CHECK_LAUNCH("store_raw_kernel");
}

}  // namespace tqsearch::gpu::internal
