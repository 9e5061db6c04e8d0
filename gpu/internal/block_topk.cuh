// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Block-wide top-K selection in shared memory ("filter + bitonic compaction"), device code only.
///
/// Per list: a buffer of B candidates (B a power of two), a count and a threshold. Each round every thread
/// offers at most `per_round` candidates per list; those above the threshold are appended. After the round the
/// block checks each list: when fewer than per_round·blockDim free slots remain, the buffer is sorted (bitonic,
/// best first), truncated to K and the threshold becomes the K-th best. Candidates ordered by score, then by
/// smaller id (the CPU FlatScanner's order).

#include <cuda_runtime.h>

#include <cfloat>
#include <climits>
#include <cstdint>

namespace tqsearch::gpu::internal {

struct Cand {
  float s;
  int32_t id;
};

__device__ __forceinline__ bool better(const Cand& a, const Cand& b) {
  return a.s > b.s || (a.s == b.s && a.id < b.id);
}

/// Sorts buf[0, n) best first; n a power of two; all threads of the block call it.
__device__ inline void bitonic_sort_best_first(Cand* buf, int n) {
  __syncthreads();
  for (int size = 2; size <= n; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < (n >> 1); i += blockDim.x) {
        const int lo = 2 * i - (i & (stride - 1));
        const int hi = lo + stride;
        const Cand a = buf[lo], b = buf[hi];
        // Runs of `size` alternate direction; the final run (size = n) is best-first.
        const bool best_first = (lo & size) == 0;
        const bool swap = best_first ? better(b, a) : better(a, b);
        if (swap) {
          buf[lo] = b;
          buf[hi] = a;
        }
      }
      __syncthreads();
    }
  }
}

/// Shared-memory state of L lists.
struct TopKLists {
  Cand* buf;   // L × B
  int* cnt;    // L
  float* thr;  // L
  int B;
  int K;

  __device__ void init(int L) {
    for (int i = threadIdx.x; i < L; i += blockDim.x) {
      cnt[i] = 0;
      thr[i] = -FLT_MAX;
    }
    __syncthreads();
  }
  /// Offer one candidate to list l (any thread, any time within a round).
  __device__ __forceinline__ void offer(int l, float s, int32_t id) {
    if (s > thr[l]) {
      const int pos = atomicAdd(&cnt[l], 1);
      if (pos < B) buf[l * B + pos] = Cand{s, id};
    }
  }
  /// Sort list l and keep its best K (all threads).
  __device__ void compact(int l) {
    __syncthreads();
    const int c = min(cnt[l], B);
    for (int i = c + threadIdx.x; i < B; i += blockDim.x) buf[l * B + i] = Cand{-FLT_MAX, INT_MAX};
    bitonic_sort_best_first(buf + l * B, B);
    if (threadIdx.x == 0) {
      const int kept = min(c, K);
      cnt[l] = kept;
      // Keep offering ties of the K-th score? No: strictly better only (ties beyond K are dropped, as the CPU heap).
      thr[l] = kept >= K ? buf[l * B + K - 1].s : -FLT_MAX;
    }
    __syncthreads();
  }
  /// End of a round: compact the lists that may overflow in the next round.
  __device__ void end_round(int L, int per_round_per_thread) {
    __syncthreads();
    const int limit = B - per_round_per_thread * static_cast<int>(blockDim.x);
    for (int l = 0; l < L; ++l) {
      if (cnt[l] > limit) compact(l);  // cnt read after the barrier: uniform over the block
    }
  }
  /// Final: sort every list and write its best K (padding: score −FLT_MAX, id −1) to out + l·K.
  __device__ void write(int L, Cand* out, int out_stride_lists) {
    for (int l = 0; l < L; ++l) {
      compact(l);
      for (int r = threadIdx.x; r < K; r += blockDim.x) {
        Cand c = buf[l * B + r];
        if (r >= cnt[l]) c = Cand{-FLT_MAX, -1};
        out[size_t(l) * out_stride_lists + r] = c;
      }
    }
  }
};

}  // namespace tqsearch::gpu::internal
