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


/// raw[u] = p[c + u] for c + u < end (16-byte loads when `vec` and the 8 elements are in range).
__device__ __forceinline__ void load8(const half* p, size_t c, size_t end, bool vec, int, int, float raw[8]) {
  if (vec && c + 8 <= end) {
    const uint4 w = *reinterpret_cast<const uint4*>(p + c);
    const half2* h = reinterpret_cast<const half2*>(&w);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(h[i]);
      raw[2 * i] = f.x;
      raw[2 * i + 1] = f.y;
    }
    return;
  }
#pragma unroll
  for (int u = 0; u < 8; ++u) raw[u] = c + u < end ? __half2float(p[c + u]) : 0.0f;
}
__device__ __forceinline__ void load8(const float* p, size_t c, size_t end, bool vec, int, int, float raw[8]) {
  if (vec && c + 8 <= end) {
    const float4 a = *reinterpret_cast<const float4*>(p + c), b = *reinterpret_cast<const float4*>(p + c + 4);
    raw[0] = a.x, raw[1] = a.y, raw[2] = a.z, raw[3] = a.w, raw[4] = b.x, raw[5] = b.y, raw[6] = b.z, raw[7] = b.w;
    return;
  }
#pragma unroll
  for (int u = 0; u < 8; ++u) raw[u] = c + u < end ? p[c + u] : 0.0f;
}

/// int32 scores: raw[u] = float(mul·p[c + u] + off), the integer formed exactly first.
__device__ __forceinline__ void load8(const int32_t* p, size_t c, size_t end, bool vec, int mul, int off,
                                      float raw[8]) {
  if (vec && c + 8 <= end) {
    const int4 a = *reinterpret_cast<const int4*>(p + c), b = *reinterpret_cast<const int4*>(p + c + 4);
    raw[0] = float(mul * a.x + off), raw[1] = float(mul * a.y + off), raw[2] = float(mul * a.z + off);
    raw[3] = float(mul * a.w + off), raw[4] = float(mul * b.x + off), raw[5] = float(mul * b.y + off);
    raw[6] = float(mul * b.z + off), raw[7] = float(mul * b.w + off);
    return;
  }
#pragma unroll
  for (int u = 0; u < 8; ++u) raw[u] = c + u < end ? float(mul * p[c + u] + off) : 0.0f;
}

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
  // Segments start on multiples of 8 so that rows with ld % 8 == 0 are read with 16-byte (fp16) loads.
  const size_t seg_len = ((len + gridDim.x - 1) / gridDim.x + 7) / 8 * 8;
  const size_t c0 = min(len, size_t(blockIdx.x) * seg_len), c1 = min(len, c0 + seg_len);
  const T* rp = scores + size_t(row) * ld;
  const bool vec = (ld % 8) == 0 && (reinterpret_cast<uintptr_t>(scores) % 16) == 0;
  const float rs = (tf.row_scale ? tf.row_scale[row] : 1.0f) * tf.scale_mult;
  const int mul = tf.row_offset ? 2 : 1, off = tf.row_offset ? tf.row_offset[row] : 0;
  const size_t per_round = size_t(kSelThreads) * kPerThread;
  for (size_t base = c0; base < c1; base += per_round) {
    const size_t cbeg = base + size_t(threadIdx.x) * kPerThread;
    float raw[kPerThread];
    load8(rp, cbeg, c1, vec, mul, off, raw);
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const size_t c = cbeg + u;
      if (c < c1) {
        const int64_t v = id_base + int64_t(c);
        float s = rs * raw[u];
        if (tf.factor != nullptr) s = tf.factor[v] * s;
        if (tf.l2) s = 2.0f * s - tf.sqnorm[v];
        lists.offer(0, s, static_cast<int32_t>(v));
      }
    }
    lists.end_round(1, kPerThread);
  }
  lists.write(1, out + (size_t(row) * out_lists_per_row + list_offset + blockIdx.x) * K, K);
}

constexpr int kMergeThreads = 512;
constexpr int kMergeFastLists = 2048;  // fast path: heads sorted in shared memory
constexpr int kMergeFastCap = 2048;    // fast path: entries at least as good as the K-th best head

/// Block per row: the row holds `nlists` lists of `len` candidates, each sorted best first (score, then smaller id;
/// padding: id −1). Best K → out[row·K, row·K + K), in the same order.
///
/// Fast path: the K-th best list head h bounds the answer (the K best heads are at least as good as h), so the best K
/// are among the entries not worse than h; walking each sorted list down to its first entry worse than h collects
/// them (typically about K). Sort those, done: one sort of the heads and one small sort. If more than
/// kMergeFastCap entries qualify (adversarial ties, or fewer than K non-empty lists) or there are too many lists,
/// the block falls back to a threshold walk with periodic compaction (TopKLists).
__global__ void __launch_bounds__(kMergeThreads) merge_kernel(const Cand* __restrict__ in, int nlists, int len, int K,
                                                              int B, Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  Cand* buf = reinterpret_cast<Cand*>(smem);
  int* count = reinterpret_cast<int*>(buf + B);
  const Cand* rp = in + size_t(blockIdx.x) * nlists * len;
  Cand* dst = out + size_t(blockIdx.x) * K;
  const Cand pad{-FLT_MAX, INT_MAX};
  auto norm = [](Cand c) { return c.id < 0 ? Cand{-FLT_MAX, INT_MAX} : c; };
  if (nlists <= kMergeFastLists) {
    int P = 1;
    while (P < max(nlists, K)) P <<= 1;
    for (int l = threadIdx.x; l < P; l += blockDim.x) buf[l] = l < nlists ? norm(rp[size_t(l) * len]) : pad;
    if (threadIdx.x == 0) *count = 0;
    bitonic_sort_best_first(buf, P);  // barriers before and after
    const Cand h = buf[K - 1];
    __syncthreads();  // everyone has read h before buf is reused
    for (int l = threadIdx.x; l < nlists; l += blockDim.x) {
      for (int r = 0; r < len; ++r) {
        const Cand x = norm(rp[size_t(l) * len + r]);
        if (x.id == INT_MAX || better(h, x)) break;  // sorted: the rest of the list is worse still
        const int pos = atomicAdd(count, 1);
        if (pos < kMergeFastCap) buf[pos] = x;
      }
    }
    __syncthreads();
    const int M = *count;  // uniform
    if (M <= kMergeFastCap) {
      int Q = 1;
      while (Q < max(M, K)) Q <<= 1;
      for (int i = M + threadIdx.x; i < Q; i += blockDim.x) buf[i] = pad;
      bitonic_sort_best_first(buf, Q);
      for (int r = threadIdx.x; r < K; r += blockDim.x) {
        Cand c = buf[r];
        if (c.id == INT_MAX) c = Cand{-FLT_MAX, -1};
        dst[r] = c;
      }
      return;
    }
    __syncthreads();
  }
  TopKLists lists;
  lists.buf = buf;
  lists.cnt = count;
  lists.thr = reinterpret_cast<float*>(count + 1);
  lists.B = B;
  lists.K = K;
  lists.init(1);
  // Lists l = threadIdx.x + c·blockDim.x, c < chunks; live bit c of `live` while list l may still contribute.
  const int chunks = (nlists + blockDim.x - 1) / blockDim.x;  // ≤ 32 (checked by the launcher)
  uint32_t live = 0;
  for (int c = 0; c < chunks; ++c)
    if (threadIdx.x + c * blockDim.x < unsigned(nlists)) live |= 1u << c;
  for (int r = 0; r < len; ++r) {
    for (int c = 0; c < chunks; ++c) {
      if (live & (1u << c)) {
        const int l = threadIdx.x + c * blockDim.x;
        const Cand x = rp[size_t(l) * len + r];
        if (x.id < 0 || !(x.s > *lists.thr)) {
          live &= ~(1u << c);  // sorted list: nothing further down can enter
        } else {
          lists.offer(0, x.s, x.id);
        }
      }
      lists.end_round(1, 1);
    }
    if (!__syncthreads_or(live != 0)) break;
  }
  lists.write(1, dst, K);
}

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
template void launch_select_scores<int32_t>(const int32_t*, size_t, size_t, int, int64_t, const ScoreTransform&, int,
                                            int, Cand*, int, int, cudaStream_t);
template void launch_select_scores<float>(const float*, size_t, size_t, int, int64_t, const ScoreTransform&, int, int,
                                          Cand*, int, int, cudaStream_t);

void launch_merge(const Cand* in, int nq, int nlists, int len, int K, Cand* out, cudaStream_t stream) {
  if (nq == 0) return;
  TQ_CHECK(K >= 1 && K <= kMaxSelectK, "GPU merge: K must be in 1.." << kMaxSelectK << ", got " << K);
  TQ_CHECK(nlists >= 1 && nlists <= 32 * kMergeThreads,
           "GPU merge: " << nlists << " lists per query; at most " << 32 * kMergeThreads << " are supported");
  // One buffer for every phase: heads (≤ kMergeFastLists), fast-path entries (≤ kMergeFastCap, padded to a power
  // of two ≥ K), fallback top-K lists (K + one entry per thread).
  const int B = std::max({pow2_at_least(K + kMergeThreads), kMergeFastLists, kMergeFastCap, pow2_at_least(K)});
  const size_t smem = sizeof(Cand) * B + 16;
  set_smem(merge_kernel, smem);
  merge_kernel<<<nq, kMergeThreads, smem, stream>>>(in, nlists, len, K, B, out);
  TQ_CHECK_LAUNCH("merge_kernel");
}

}  // namespace tqsearch::gpu::internal
