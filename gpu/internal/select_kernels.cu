// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/select_kernels.cuh"

#include <algorithm>

#include "gpu/internal/cuda_check.cuh"
#include "quant/error.h"

namespace tqsearch::gpu::internal {
namespace {

constexpr int kSelThreads = 256;
constexpr int kPerThread = 8;  // elements per thread per round (one 16-byte load of fp16)

int pow2_at_least(int x) {
  int p = 1;
  while (p < x) p *= 2;
  return p;
}

__device__ __forceinline__ float to_float(half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(float v) { return v; }

template <typename T>
__global__ void __launch_bounds__(kSelThreads) select_scores_kernel(const T* __restrict__ scores, size_t ld, size_t len,
                                                                    int64_t id_base, ScoreTransform tf, int K, int B,
                                                                    Cand* out, int out_lists_per_row, int list_offset) {
  extern __shared__ __align__(16) unsigned char smem[];
  TopKLists lists;
  lists.buf = reinterpret_cast<Cand*>(smem);
  lists.cnt = reinterpret_cast<int*>(lists.buf + B);
  lists.thr = reinterpret_cast<float*>(lists.cnt + 1);
  lists.B = B;
  lists.K = K;
  lists.init(1);
  const int row = blockIdx.y;
  const size_t seg_len = (len + gridDim.x - 1) / gridDim.x;
  const size_t c0 = min(len, size_t(blockIdx.x) * seg_len), c1 = min(len, c0 + seg_len);
  const T* rp = scores + size_t(row) * ld;
  const float rs = (tf.row_scale ? tf.row_scale[row] : 1.0f) * tf.scale_mult;
  const size_t per_round = size_t(kSelThreads) * kPerThread;
  for (size_t base = c0; base < c1; base += per_round) {
    const size_t cbeg = base + size_t(threadIdx.x) * kPerThread;
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const size_t c = cbeg + u;
      if (c < c1) {
        const int64_t v = id_base + int64_t(c);
        float s = rs * to_float(rp[c]);
        if (tf.factors != nullptr) {
          const float2 f = tf.factors[v];
          const float fv = tf.renorm ? f.x / f.y : f.x;
          s = fv * s;
          if (tf.l2) s = 2.0f * s - f.x * f.x;
        } else if (tf.l2) {
          s = 2.0f * s - tf.sqnorm[v];
        }
        lists.offer(0, s, static_cast<int32_t>(v));
      }
    }
    lists.end_round(1, kPerThread);
  }
  lists.write(1, out + (size_t(row) * out_lists_per_row + list_offset + blockIdx.x) * K, K);
}

constexpr int kMergeThreads = 512;

/// Block (segment, row): best K of in[row·M + segment range) → out[(row·gridDim.x + segment)·K].
__global__ void __launch_bounds__(kMergeThreads) merge_kernel(const Cand* __restrict__ in, size_t M, int K, int B,
                                                              Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  TopKLists lists;
  lists.buf = reinterpret_cast<Cand*>(smem);
  lists.cnt = reinterpret_cast<int*>(lists.buf + B);
  lists.thr = reinterpret_cast<float*>(lists.cnt + 1);
  lists.B = B;
  lists.K = K;
  lists.init(1);
  const size_t seg_len = (M + gridDim.x - 1) / gridDim.x;
  const size_t c0 = min(M, size_t(blockIdx.x) * seg_len), c1 = min(M, c0 + seg_len);
  const Cand* rp = in + size_t(blockIdx.y) * M;
  for (size_t base = c0; base < c1; base += blockDim.x) {
    const size_t c = base + threadIdx.x;
    if (c < c1) {
      const Cand x = rp[c];
      if (x.id >= 0) lists.offer(0, x.s, x.id);
    }
    lists.end_round(1, 1);
  }
  lists.write(1, out + (size_t(blockIdx.y) * gridDim.x + blockIdx.x) * K, K);
}

int merge_segments(size_t M) { return static_cast<int>(std::min<size_t>(64, (M + 8191) / 8192)); }

template <typename K>
void set_smem(K kernel, size_t bytes) {
  TQ_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

}  // namespace

template <typename T>
void launch_select_scores(const T* scores, size_t ld, size_t len, int nq, int64_t id_base, const ScoreTransform& tf,
                          int K, int segments, Cand* out, int out_lists_per_row, int list_offset,
                          cudaStream_t stream) {
  if (nq == 0 || len == 0) return;
  TQ_CHECK(K >= 1 && K <= kMaxSelectK, "GPU select: K must be in 1.." << kMaxSelectK << ", got " << K);
  const int B = pow2_at_least(K + kSelThreads * kPerThread);
  const size_t smem = sizeof(Cand) * B + 16;
  set_smem(select_scores_kernel<T>, smem);
  dim3 grid(segments, nq);
  select_scores_kernel<T><<<grid, kSelThreads, smem, stream>>>(scores, ld, len, id_base, tf, K, B, out,
                                                               out_lists_per_row, list_offset);
  TQ_CHECK_LAUNCH("select_scores_kernel");
}

template void launch_select_scores<half>(const half*, size_t, size_t, int, int64_t, const ScoreTransform&, int, int,
                                         Cand*, int, int, cudaStream_t);
template void launch_select_scores<float>(const float*, size_t, size_t, int, int64_t, const ScoreTransform&, int, int,
                                          Cand*, int, int, cudaStream_t);

size_t merge_workspace(int nq, size_t M, int K) {
  const int seg = merge_segments(M);
  return seg > 1 ? size_t(nq) * seg * K : 0;
}

void launch_merge(const Cand* in, int nq, size_t M, int K, Cand* out, Cand* workspace, cudaStream_t stream) {
  if (nq == 0) return;
  TQ_CHECK(K >= 1 && K <= kMaxSelectK, "GPU merge: K must be in 1.." << kMaxSelectK << ", got " << K);
  const int B = pow2_at_least(K + kMergeThreads);
  const size_t smem = sizeof(Cand) * B + 16;
  set_smem(merge_kernel, smem);
  const int seg = merge_segments(M);
  if (seg > 1) {  // two levels: segments of each row in parallel, then their seg·K survivors
    TQ_CHECK(workspace != nullptr, "GPU merge: missing workspace");
    merge_kernel<<<dim3(seg, nq), kMergeThreads, smem, stream>>>(in, M, K, B, workspace);
    TQ_CHECK_LAUNCH("merge_kernel");
    merge_kernel<<<dim3(1, nq), kMergeThreads, smem, stream>>>(workspace, size_t(seg) * K, K, B, out);
  } else {
    merge_kernel<<<dim3(1, nq), kMergeThreads, smem, stream>>>(in, M, K, B, out);
  }
  TQ_CHECK_LAUNCH("merge_kernel");
}

}  // namespace tqsearch::gpu::internal
