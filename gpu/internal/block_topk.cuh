// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Block-wide top-K selection in shared memory ("filter + bitonic compaction"), device code only.
///
/// Per list: a buffer of B candidates (B a power of two), a count and a threshold. Two policies:
/// - end_round(): each round every thread offers at most `per_round` candidates per list (offer); after the round
///   the block checks the lists, and when any has fewer than per_round·blockDim free slots left, all lists are
///   sorted together (one bitonic network, best first), truncated to K, and each threshold becomes its list's
///   K-th best.
/// - try_offer() / settle(): lists smaller than a round's worst case; a candidate that finds its list full raises
///   a shared flag and is offered again after the block compacts (see settle()).
/// Candidates are ordered by score, then by smaller id (the CPU FlatScanner's order).

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
  int* over;   // the settle() epoch in which some try_offer found its list full (shared)
  int B;
  int K;
  int epoch = 0;  // settle() calls so far: the same in every thread (each thread's own copy)

  __device__ void init(int L) {
    for (int i = threadIdx.x; i < L; i += blockDim.x) {
      cnt[i] = 0;
      thr[i] = -FLT_MAX;
    }
    if (threadIdx.x == 0) *over = -1;
    epoch = 0;
    __syncthreads();
  }
  /// Offer one candidate to list l (any thread, any time within a round).
  __device__ __forceinline__ void offer(int l, float s, int32_t id) {
    if (s > thr[l]) {
      const int pos = atomicAdd(&cnt[l], 1);
      if (pos < B) buf[l * B + pos] = Cand{s, id};
    }
  }
  /// Sorts lists [0, L) together (one bitonic network over all of them: the barriers of one sort, not L) and
  /// keeps each list's best K; thresholds become each list's K-th best (all threads).
  __device__ void compact_all(int L) {
    __syncthreads();
    const int lb = 31 - __clz(B);  // B = 2^lb
    for (int e = threadIdx.x; e < (L << lb); e += blockDim.x) {
      const int l = e >> lb, i = e & (B - 1);
      if (i >= min(cnt[l], B)) buf[e] = Cand{-FLT_MAX, INT_MAX};
    }
    __syncthreads();
    const int lh = lb - 1;  // B/2 compare-exchanges per list and stage
    for (int size = 2; size <= B; size <<= 1) {
      for (int stride = size >> 1; stride > 0; stride >>= 1) {
        for (int e = threadIdx.x; e < (L << lh); e += blockDim.x) {
          const int l = e >> lh, i = e & ((B >> 1) - 1);
          const int lo = 2 * i - (i & (stride - 1));
          const int hi = lo + stride;
          Cand* lst = buf + (l << lb);
          const Cand x = lst[lo], y = lst[hi];
          const bool best_first = (lo & size) == 0;  // runs of `size` alternate; the final run is best-first
          const bool swap = best_first ? better(y, x) : better(x, y);
          if (swap) {
            lst[lo] = y;
            lst[hi] = x;
          }
        }
        __syncthreads();
      }
    }
    for (int l = threadIdx.x; l < L; l += blockDim.x) {
      const int kept = min(min(cnt[l], B), K);
      cnt[l] = kept;
      // Strictly better only from now on (ties beyond K are dropped, as the CPU heap).
      thr[l] = kept >= K ? buf[(l << lb) + K - 1].s : -FLT_MAX;
    }
    __syncthreads();
  }
  /// End of a round: when any list may overflow in the next round, compact all lists together.
  __device__ void end_round(int L, int per_round_per_thread) {
    __syncthreads();
    const int limit = B - per_round_per_thread * static_cast<int>(blockDim.x);
    bool any = false;
    for (int l = 0; l < L; ++l) any = any || cnt[l] > limit;  // read after the barrier: uniform over the block
    if (any) compact_all(L);
  }
  /// Overflow protocol (lists smaller than a round's worst case): offers use try_offer(), which reports a candidate
  /// that found its list full; after the round the block calls settle(): when a list overflowed, all lists are
  /// compacted and settle() returns true, and the threads re-offer their reported candidates (those still above the
  /// new thresholds), then call settle() again, until it returns false. The decision is read from shared memory
  /// after a barrier: uniform over the block. Needs B > K.
  /// @return false when the candidate is above the threshold but its list is full (offer it again after settle)
  __device__ __forceinline__ bool try_offer(int l, float s, int32_t id) {
    if (!(s > thr[l])) return true;
    const int pos = atomicAdd(&cnt[l], 1);
    if (pos < B) {
      buf[l * B + pos] = Cand{s, id};
      return true;
    }
    *over = epoch;
    return false;
  }
  /// One shared word instead of L counts. It holds the epoch of the last overflow, so a warp that has already
  /// moved on to the next round (and overflows there: it writes epoch + 1) cannot change what a slower warp reads
  /// here after the same barrier: every thread decides alike. When an overflow happened, no warp leaves before
  /// all have read (compact_all starts with a barrier).
  __device__ bool settle(int L) {
    __syncthreads();
    const bool over_now = *over == epoch;
    ++epoch;
    if (over_now) compact_all(L);  // clamps counts to B, keeps the best K
    return over_now;
  }
  /// Final: sort every list and write its best K (padding: score −FLT_MAX, id −1) to out + l·out_stride_lists.
  __device__ void write(int L, Cand* out, int out_stride_lists) {
    compact_all(L);
    for (int e = threadIdx.x; e < L * K; e += blockDim.x) {
      const int l = e / K, r = e % K;
      Cand c = buf[l * B + r];
      if (r >= cnt[l]) c = Cand{-FLT_MAX, -1};
      out[size_t(l) * out_stride_lists + r] = c;
    }
  }
};

}  // namespace tqsearch::gpu::internal
