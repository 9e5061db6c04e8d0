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
  lists.over = reinterpret_cast<int*>(lists.thr + 1);
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
        float s;
        if (tf.factor != nullptr) {  // the fused scan's arithmetic: (f·rs)·raw, L2 (f·2rs)·raw − sqnorm, one rounding
          const float f = tf.factor[v] * (tf.l2 ? 2.0f * rs : rs);
          s = tf.l2 ? fmaf(f, raw[u], -tf.sqnorm[v]) : f * raw[u];
        } else {
          s = rs * raw[u];
          if (tf.l2) s = 2.0f * s - tf.sqnorm[v];
        }
        lists.offer(0, s, static_cast<int32_t>(v));
      }
    }
    lists.end_round(1, kPerThread);
  }
  lists.write(1, out + (size_t(row) * out_lists_per_row + list_offset + blockIdx.x) * K, K);
}

constexpr int kMergeThreads = 512;
constexpr int kMergeWarps = kMergeThreads / 32;
constexpr int kMergeFastLists = 2048;  // fast path: up to this many lists (4 heads per thread)
constexpr int kMergeFastCap = 2048;    // fast path: entries at least as good as the K-th best head

/// Monotone uint32 key of a float score (key order = float order).
__device__ __forceinline__ uint32_t score_key(float f) {
  const uint32_t b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

/// Block per row: the row holds `nlists` lists of `len` candidates, each sorted best first (score, then smaller id;
/// padding: id −1). Best K → out[row·K, row·K + K), in the same order.
///
/// Fast path: the K-th best list head bounds the answer (the K best heads are K entries at least as good as it),
/// so the best K are among the entries whose score is at least the K-th best head score s_K. s_K comes from a
/// bitwise search on the heads' score keys (32 block-wide counts, no sort); the lists whose head reaches it are
/// read a warp at a time (32 entries per load, a ballot finds where the list drops below s_K), and the collected
/// entries (typically about K) are sorted once; with fewer than K non-empty lists and at most kMergeFastCap entries
/// in all, every entry is collected. If more than kMergeFastCap entries qualify (adversarial ties) or there are too
/// many lists, the block falls back to a threshold walk with periodic compaction (TopKLists).
__global__ void __launch_bounds__(kMergeThreads) merge_kernel(const Cand* __restrict__ in, int nlists, int len, int K,
                                                              int B, Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  Cand* buf = reinterpret_cast<Cand*>(smem);
  int* count = reinterpret_cast<int*>(buf + B);
  int* qual = count + 4;  // fast path: indices of the lists whose head reaches s_K (≤ kMergeFastLists)
  const Cand* rp = in + size_t(blockIdx.x) * nlists * len;
  Cand* dst = out + size_t(blockIdx.x) * K;
  const Cand pad{-FLT_MAX, INT_MAX};
  auto norm = [](Cand c) { return c.id < 0 ? Cand{-FLT_MAX, INT_MAX} : c; };
  if (nlists <= kMergeFastLists) {
    constexpr int kHeads = kMergeFastLists / kMergeThreads;  // per thread
    if (threadIdx.x == 0) count[2] = 0;
    __syncthreads();
    uint32_t key[kHeads];
    int nonempty = 0;
#pragma unroll
    for (int u = 0; u < kHeads; ++u) {
      const int l = threadIdx.x + u * kMergeThreads;
      const Cand h = l < nlists ? norm(rp[size_t(l) * len]) : pad;
      key[u] = h.id == INT_MAX ? 0u : score_key(h.s);  // 0: empty list (below every score)
      nonempty += key[u] != 0;
    }
    if (nonempty > 0) atomicAdd(&count[2], nonempty);
    __syncthreads();
    // Uniform: at least K non-empty lists (bound s_K), or so few entries in all that every one is collected
    // (kth = 1: any non-empty entry); otherwise the fallback below.
    const bool have_k = count[2] >= K;
    const bool take_all = !have_k && size_t(nlists) * len <= size_t(kMergeFastCap);
    if (have_k || take_all) {
    // s_K: the K-th largest head key, by radix select (four 8-bit digits from the top; histogram in buf).
    int* hist = reinterpret_cast<int*>(buf);
    uint32_t kth = 0;
    int need = K;
    for (int shift = 24; have_k && shift >= 0; shift -= 8) {
      const uint32_t hi_mask = shift == 24 ? 0u : ~0u << (shift + 8);
      for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
      __syncthreads();
#pragma unroll
      for (int u = 0; u < kHeads; ++u)
        if (key[u] != 0 && (key[u] & hi_mask) == kth) atomicAdd(&hist[(key[u] >> shift) & 255u], 1);
      __syncthreads();
      if (threadIdx.x < 32) {  // warp 0: the digit where the count of keys from the top reaches `need`
        const int lane = threadIdx.x;
        int c[8], tot = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) tot += c[j] = hist[255 - 8 * lane - j];  // lane 0 holds the highest bins
        int incl = tot;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
          const int v = __shfl_up_sync(0xffffffffu, incl, o);
          if (lane >= o) incl += v;
        }
        const int excl = incl - tot;
        if (excl < need && need <= incl) {  // exactly one lane (need ≤ the keys left, which all fall in a bin)
          int run = excl, j = 0;
          while (run + c[j] < need) run += c[j++];
          count[0] = 255 - 8 * lane - j;
          count[1] = need - run;
        }
      }
      __syncthreads();
      kth |= uint32_t(count[0]) << shift;
      need = count[1];
      __syncthreads();  // everyone read count before the next pass or the reset below
    }
    if (take_all) kth = 1;
    if (threadIdx.x == 0) count[0] = count[1] = 0;
    __syncthreads();
    {
#pragma unroll
      for (int u = 0; u < kHeads; ++u) {
        const int l = threadIdx.x + u * kMergeThreads;
        if (l < nlists && key[u] >= kth) qual[atomicAdd(&count[1], 1)] = l;
      }
      __syncthreads();
      const int nqual = count[1];
      const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
      for (int i = warp; i < nqual; i += kMergeWarps) {
        const Cand* lp = rp + size_t(qual[i]) * len;
        for (int r0 = 0; r0 < len; r0 += 32) {
          const Cand x = r0 + lane < len ? norm(lp[r0 + lane]) : pad;
          const bool ok = x.id != INT_MAX && score_key(x.s) >= kth;
          const uint32_t m = __ballot_sync(0xffffffffu, ok);
          const int base = lane == 0 && m ? atomicAdd(&count[0], __popc(m)) : 0;
          const int pos = __shfl_sync(0xffffffffu, base, 0) + __popc(m & ((1u << lane) - 1));
          if (ok && pos < kMergeFastCap) buf[pos] = x;
          if (m != 0xffffffffu) break;  // sorted: the rest of the list is below s_K
        }
      }
      __syncthreads();
      const int M = count[0];  // uniform
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
    }
    }  // have_k || take_all
    __syncthreads();
  }
  TopKLists lists;
  lists.buf = buf;
  lists.cnt = count;
  lists.thr = reinterpret_cast<float*>(count + 1);
  lists.over = count + 2;  // the fast path's count[2], if it ran, is done with (barrier above)
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
  allow_dynamic_smem(kernel, bytes, "GPU top-k selection");
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
  const size_t smem = sizeof(Cand) * B + sizeof(int) * (4 + kMergeFastLists) + 16;
  set_smem(merge_kernel, smem);
  merge_kernel<<<nq, kMergeThreads, smem, stream>>>(in, nlists, len, K, B, out);
  TQ_CHECK_LAUNCH("merge_kernel");
}

}  // namespace tqsearch::gpu::internal
