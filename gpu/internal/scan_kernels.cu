// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/scan_kernels.cuh"

#include <algorithm>

#include "gpu/internal/cuda_check.cuh"
#include "gpu/internal/device_common.cuh"
#include "quant/error.h"

namespace tqsearch::gpu::internal {
namespace {

constexpr int kScanThreads = 256;
constexpr int kScanWarps = kScanThreads / 32;
constexpr int kUnroll = 4;  // 16-byte loads in flight per thread
constexpr size_t kScanSmemTarget = 112 * 1024;

__device__ __forceinline__ uint4 load_stream(const uint4* p) { return __ldcs(p); }

/// Byte mode (dp4a): NQ queries per pass; NIBBLE must be false (nibble mode runs mma_scan_kernel).
template <int NQ, bool NIBBLE>
__global__ void __launch_bounds__(kScanThreads) fused_scan_kernel(QuantView q, FusedScanArgs a, int B, Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  int8_t* q8s = reinterpret_cast<int8_t*>(smem);
  const int dp = q.dp;
  TopKLists lists;
  lists.buf = reinterpret_cast<Cand*>(smem + size_t(NQ) * dp);
  lists.cnt = reinterpret_cast<int*>(lists.buf + size_t(NQ) * B);
  lists.thr = reinterpret_cast<float*>(lists.cnt + NQ);
  lists.over = reinterpret_cast<int*>(lists.thr + NQ);
  lists.B = B;
  lists.K = a.K;
  {
    const int4* src = reinterpret_cast<const int4*>(a.q8);
    int4* dst = reinterpret_cast<int4*>(q8s);
    const int per_q = dp / 16;
    for (int e = threadIdx.x; e < NQ * per_q; e += blockDim.x) {
      const int i = e / per_q;
      dst[e] = i < a.nq ? src[size_t(i) * per_q + e % per_q] : make_int4(0, 0, 0, 0);
    }
  }
  lists.init(NQ);  // includes a barrier
  float qa[NQ];
#pragma unroll
  for (int i = 0; i < NQ; ++i) qa[i] = i < a.nq ? a.qscale[i] * q.tscale * (a.l2 ? 2.0f : 1.0f) : 0.0f;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int C = q.chunks;
  static_assert(!NIBBLE, "nibble mode uses mma_scan_kernel");
  const size_t ntiles = (a.n + kTile - 1) / kTile;
  const size_t per_round = size_t(gridDim.x) * kScanWarps;
  const size_t rounds = (ntiles + per_round - 1) / per_round;
  for (size_t r = 0; r < rounds; ++r) {
    const size_t tile = (r * gridDim.x + blockIdx.x) * kScanWarps + warp;
    if (tile < ntiles) {
      int acc[NQ];
#pragma unroll
      for (int i = 0; i < NQ; ++i) acc[i] = 0;
      const uint4* tp = a.tiles + tile * size_t(C) * kTile + lane;
      for (int c0 = 0; c0 < C; c0 += kUnroll) {
        uint4 w[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u)
          if (c0 + u < C) w[u] = load_stream(tp + size_t(c0 + u) * kTile);
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int c = c0 + u;
          if (c >= C) break;
          {  // byte mode: one int8 value per coordinate, 16 per chunk
#pragma unroll
            for (int i = 0; i < NQ; ++i) {
              const int4 qx = *reinterpret_cast<const int4*>(q8s + size_t(i) * dp + size_t(c) * 16);
              int s = acc[i];
              s = __dp4a(int(w[u].x), qx.x, s);
              s = __dp4a(int(w[u].y), qx.y, s);
              s = __dp4a(int(w[u].z), qx.z, s);
              s = __dp4a(int(w[u].w), qx.w, s);
              acc[i] = s;
            }
          }
        }
      }
      const size_t v = tile * kTile + lane;
      if (v < a.n) {
        const float fv = a.factor[v];
        const float nn = a.l2 ? a.sqnorm[v] : 0.0f;
#pragma unroll
        for (int i = 0; i < NQ; ++i) {
          if (i < a.nq) {
            const float f = fv * qa[i];  // as the nibble kernel: (fv·qa)·x, L2 (fv·2qa)·x − ‖x‖²
            const float s = a.l2 ? fmaf(f, float(acc[i]), -nn) : f * float(acc[i]);
            lists.offer(i, s, static_cast<int32_t>(v));
          }
        }
      }
    }
    lists.end_round(NQ, 1);
  }
  lists.write(a.nq, out + size_t(blockIdx.x) * a.K, static_cast<int>(gridDim.x) * a.K);
}


__device__ __forceinline__ void mma_s8(int d[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                       uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

/// Nibble mode on int8 tensor cores. A warp takes a tile of 32 vectors per round; per 32-coordinate chunk each lane
/// loads 16 bytes (the B fragments of 4 n-blocks of 8 vectors), dequantizes them with byte permutes, and issues
/// m16n8k32 products against 16·NG queries (A fragments from shared memory, rows padded to avoid bank conflicts).
/// Lane (g, t) ends with the scores of queries g, g+8 (+16·group) for vectors 8m + 2t, 8m + 2t + 1.
/// H = 1 (at most 8 queries): the A rows g + 8 are zero and their scores are neither loaded nor computed.
/// The chunk loop runs in branch-free groups of kUnroll chunks (pointer bumps, immediate offsets) and a tail: the
/// scan is bound by issued instructions (ALU pipe), so loop control and address arithmetic matter as much as the
/// dequantization (ncu, H200, 1M × 1536: 108 → ~60 instructions per chunk).
/// Top-K: thresholds cached in registers filter the scores (rows without a query get +∞); survivors go to the
/// block's lists with the overflow protocol of TopKLists (try_offer / settle). Measured on H200 and dropped (no gain
/// or slower): streaming the tiles through a cp.async ring in shared memory; sharing the blocks' K-th best scores
/// through global memory; per-warp top-K lists without the block barrier per round (0.26 → 0.28 ms at nq = 1,
/// 0.36 → 0.80 ms at nq = 16, 1M × 1536); prefetching the next tile into L2; two tiles per warp and round.
template <int NG, int H>
__global__ void __launch_bounds__(kScanThreads, NG == 1 ? 4 : 2) mma_scan_kernel(QuantView q, FusedScanArgs a, int B, int ldq,
                                                                Cand* out) {
  static_assert(NG <= 2 && H >= 1 && H <= 2 && (H == 2 || NG == 1), "H = 1 only with one query group");
  constexpr int NQ = 16 * NG;
  extern __shared__ __align__(16) unsigned char smem[];
  int8_t* q8s = reinterpret_cast<int8_t*>(smem);
  const int dp = q.dp;
  TopKLists lists;
  lists.buf = reinterpret_cast<Cand*>(smem + size_t(NQ) * ldq);
  lists.cnt = reinterpret_cast<int*>(lists.buf + size_t(a.nq) * B);
  lists.thr = reinterpret_cast<float*>(lists.cnt + a.nq);
  lists.over = reinterpret_cast<int*>(lists.thr + a.nq);
  lists.B = B;
  lists.K = a.K;
  for (int e = threadIdx.x; e < NQ * ldq / 4; e += blockDim.x) {
    const int i = e / (ldq / 4), c4 = e % (ldq / 4);
    int v = 0;
    if (i < a.nq && 4 * c4 < dp) v = *reinterpret_cast<const int*>(a.q8 + size_t(i) * dp + 4 * c4);
    reinterpret_cast<int*>(q8s)[e] = v;
  }
  lists.init(a.nq);  // includes a barrier

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  // Values stand for (v + ½)·tscale: score = factor · qscale·tscale/2 · (2·acc + Σ q8), the integer exact.
  float qa[2 * NG];
  int qs[2 * NG];
#pragma unroll
  for (int h = 0; h < 2 * NG; ++h) {
    const int row = 8 * h + g;  // rows g, g+8, g+16, g+24
    qa[h] = row < a.nq ? a.qscale[row] * (0.5f * q.tscale) * (a.l2 ? 2.0f : 1.0f) : 0.0f;
    qs[h] = row < a.nq ? a.qsum[row] : 0;
  }
  const int C = q.chunks;
  const uint32_t t0 = q.table_words[0], t1 = q.table_words[1];
  // Tile indices fit 32 bits: ids are int32, so n < 2^31 and ntiles < 2^26.
  const uint32_t ntiles = static_cast<uint32_t>((a.n + kTile - 1) / kTile);
  const uint32_t per_round = gridDim.x * kScanWarps;
  const uint32_t rounds = (ntiles + per_round - 1) / per_round;
  const uint32_t first_tile = blockIdx.x * kScanWarps + warp;
  const int8_t* arow0 = q8s + size_t(g) * ldq + 4 * t;  // A rows g (+16x); rows g + 8 at + 8·ldq
  const int ldq8 = 8 * ldq;
  // One chunk: w = this lane's 16 bytes, ap = its A fragment address for the chunk.
  auto chunk_products = [&](const uint4& w, const int8_t* ap, int (&acc)[NG][4][4]) {
    uint32_t b[4][2];
    dequant_word(w.x, t0, t1, b[0][0], b[0][1]);
    dequant_word(w.y, t0, t1, b[1][0], b[1][1]);
    dequant_word(w.z, t0, t1, b[2][0], b[2][1]);
    dequant_word(w.w, t0, t1, b[3][0], b[3][1]);
#pragma unroll
    for (int x = 0; x < NG; ++x) {
      const int8_t* p = ap + 16 * x * ldq;
      const uint32_t a0 = *reinterpret_cast<const uint32_t*>(p);
      const uint32_t a2 = *reinterpret_cast<const uint32_t*>(p + 16);
      const uint32_t a1 = H == 2 ? *reinterpret_cast<const uint32_t*>(p + ldq8) : 0u;
      const uint32_t a3 = H == 2 ? *reinterpret_cast<const uint32_t*>(p + ldq8 + 16) : 0u;
#pragma unroll
      for (int m = 0; m < 4; ++m) mma_s8(acc[x][m], a0, a1, a2, a3, b[m][0], b[m][1]);
    }
  };
  float thr_reg[2 * NG];  // cached thresholds of rows g + 8h (≤ the shared ones); +∞ for rows without a query
#pragma unroll
  for (int h = 0; h < 2 * NG; ++h) thr_reg[h] = 8 * h + g < a.nq ? -FLT_MAX : FLT_MAX;
  for (uint32_t r = 0; r < rounds; ++r) {
    const uint32_t tile = first_tile + r * per_round;
    uint32_t pend = 0;    // candidates (x, m, hh, e2) of this lane above the cached threshold, not yet stored
    float sc[NG][4][4];   // their scores
    if (tile < ntiles) {
      int acc[NG][4][4];
#pragma unroll
      for (int x = 0; x < NG; ++x)
#pragma unroll
        for (int m = 0; m < 4; ++m)
#pragma unroll
          for (int y = 0; y < 4; ++y) acc[x][m][y] = 0;
      const uint4* tp = a.tiles + size_t(tile) * C * kTile + lane;
      const int8_t* ap = arow0;
      int c = 0;
      // This lane's vector's factors, loaded with the codes (one coalesced 128-byte line per array and tile); the
      // epilogue fetches the ones it needs by shuffles instead of waiting on loads after the products.
      const float my_f = a.factor[size_t(tile) * kTile + lane];
      const float my_n = a.l2 ? a.sqnorm[size_t(tile) * kTile + lane] : 0.0f;
      for (; c + kUnroll <= C; c += kUnroll) {
        uint4 w[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) w[u] = load_stream(tp + u * kTile);
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) chunk_products(w[u], ap + 32 * u, acc);
        tp += kUnroll * kTile;
        ap += 32 * kUnroll;
      }
      for (; c < C; ++c) {
        chunk_products(load_stream(tp), ap, acc);
        tp += kTile;
        ap += 32;
      }
      // Epilogue: score the tile's 32 vectors for this lane's rows and keep those above the cached thresholds
      // (thresholds only rise, so the cache passes a superset of what the lists accept). Factors of vectors
      // 8m + 2t and 8m + 2t + 1 from their lanes (arrays hold whole tiles).
      // Vector 8m + 2t + e2 of the tile exists iff 8m + e2 < lim (one 32-bit compare with an immediate each).
      const int lim = static_cast<int>(min(a.n - size_t(tile) * kTile, size_t(kTile))) - 2 * t;
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        const float fv2[2] = {__shfl_sync(0xffffffffu, my_f, 8 * m + 2 * t),
                              __shfl_sync(0xffffffffu, my_f, 8 * m + 2 * t + 1)};
        float nn2[2] = {0.0f, 0.0f};
        if (a.l2) {
          nn2[0] = __shfl_sync(0xffffffffu, my_n, 8 * m + 2 * t);
          nn2[1] = __shfl_sync(0xffffffffu, my_n, 8 * m + 2 * t + 1);
        }
#pragma unroll
        for (int e2 = 0; e2 < 2; ++e2) {
          const bool valid = 8 * m + e2 < lim;
          const float fv = fv2[e2], nn = nn2[e2];
#pragma unroll
          for (int x = 0; x < NG; ++x) {
#pragma unroll
            for (int hh = 0; hh < H; ++hh) {
              // |2·acc + Σ q8| ≤ 2·127·128·dp + 127·dp < 2^31 for every dp ≤ 65536 (TurboQuantizer's d limit).
              // IP: (fv·qa)·x; L2: (fv·2qa)·x − ‖x‖² in one rounding (the GEMM path's select does the same).
              const float f = fv * qa[2 * x + hh];
              const float xv = float(2 * acc[x][m][2 * hh + e2] + qs[2 * x + hh]);
              const float s = a.l2 ? fmaf(f, xv, -nn) : f * xv;
              sc[x][m][2 * hh + e2] = s;
              const int bit = ((x * 4 + m) * 2 + hh) * 2 + e2;
              if (valid && s > thr_reg[2 * x + hh]) pend |= 1u << bit;
            }
          }
        }
      }
    }
    // Offer the pending candidates; re-offer those that found their list full after the block compacts.
    bool compacted = false;
    for (;;) {
      if (__any_sync(0xffffffffu, pend != 0)) {
#pragma unroll
        for (int x = 0; x < NG; ++x)
#pragma unroll
          for (int m = 0; m < 4; ++m)
#pragma unroll
            for (int hh = 0; hh < H; ++hh)
#pragma unroll
              for (int e2 = 0; e2 < 2; ++e2) {
                const int bit = ((x * 4 + m) * 2 + hh) * 2 + e2;
                if (pend & (1u << bit)) {
                  const int row = 16 * x + 8 * hh + g;
                  const int32_t v = static_cast<int32_t>(tile * kTile + 8 * m + 2 * t + e2);
                  if (lists.try_offer(row, sc[x][m][2 * hh + e2], v)) pend &= ~(1u << bit);
                }
              }
      }
      if (!lists.settle(a.nq)) break;
      compacted = true;
    }
    // Thresholds change only when the lists are compacted (uniform over the block).
    if (compacted) {
#pragma unroll
      for (int h = 0; h < 2 * NG; ++h) {
        const int row = 8 * h + g;
        thr_reg[h] = row < a.nq ? lists.thr[row] : FLT_MAX;
      }
    }
  }
  lists.write(a.nq, out + size_t(blockIdx.x) * a.K, static_cast<int>(gridDim.x) * a.K);
}

template <int NQ>
void launch_dp4a(const QuantView& q, const FusedScanPlan& plan, const FusedScanArgs& args, Cand* out,
                 cudaStream_t stream) {
  auto kernel = fused_scan_kernel<NQ, false>;
  allow_dynamic_smem(kernel, plan.smem, "GPU fused scan");
  kernel<<<plan.blocks, kScanThreads, plan.smem, stream>>>(q, args, plan.B, out);
  TQ_CHECK_LAUNCH("fused_scan_kernel");
}

using MmaScanKernel = void (*)(QuantView, FusedScanArgs, int, int, Cand*);

/// The tensor-core scan for a pass of `nq` queries: 17–32 queries take two query groups; up to 8 skip the A rows
/// g + 8 (H = 1).
MmaScanKernel mma_kernel_for(int nq) {
  if (nq > 16) return mma_scan_kernel<2, 2>;
  if (nq > 8) return mma_scan_kernel<1, 2>;
  return mma_scan_kernel<1, 1>;
}

void launch_mma(const FusedScanPlan& plan, const QuantView& q, const FusedScanArgs& args, Cand* out,
                cudaStream_t stream) {
  // A pass of ≤ 16 queries in a 32-query plan still runs the two-group kernel: same shared-memory layout.
  const MmaScanKernel kernel = mma_kernel_for(plan.batch > 16 ? plan.batch : args.nq);
  allow_dynamic_smem(kernel, plan.smem, "GPU fused scan");
  kernel<<<plan.blocks, kScanThreads, plan.smem, stream>>>(q, args, plan.B, plan.ldq, out);
  TQ_CHECK_LAUNCH("mma_scan_kernel");
}

template <typename K>
int occupancy_of(K kernel, size_t smem) {
  int blocks = 0;
  allow_dynamic_smem(kernel, smem, "GPU fused scan");
  TQ_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kScanThreads, smem));
  return blocks;
}

int occupancy_for(const QuantView& q, int batch, size_t smem) {
  if (q.nibble) {
    if (batch > 16) return occupancy_of(mma_kernel_for(batch), smem);
    return std::min(occupancy_of(mma_kernel_for(batch), smem), occupancy_of(mma_kernel_for(1), smem));
  }
  switch (batch) {
    case 1: return occupancy_of(fused_scan_kernel<1, false>, smem);
    case 2: return occupancy_of(fused_scan_kernel<2, false>, smem);
    case 4: return occupancy_of(fused_scan_kernel<4, false>, smem);
    case 8: return occupancy_of(fused_scan_kernel<8, false>, smem);
    case 16: return occupancy_of(fused_scan_kernel<16, false>, smem);
    default: return occupancy_of(fused_scan_kernel<32, false>, smem);
  }
}

/// Rows [v0, v0 + count) of the scan layout → int8 rows (count, dp): the table values the fused scan multiplies.
__global__ void dequant_int8_kernel(QuantView q, const uint4* __restrict__ tiles, size_t v0, size_t count,
                                    int8_t* __restrict__ out) {
  const int C = q.chunks;
  const uint32_t t0 = q.table_words[0], t1 = q.table_words[1];
  const size_t total = count * C;
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x) {
    const size_t vl = e / C;
    const int c = static_cast<int>(e % C);
    const size_t v = v0 + vl;
    if (q.nibble) {
      const uint32_t* words = reinterpret_cast<const uint32_t*>(tiles);
      const int lv = static_cast<int>(v % kTile);
      uint32_t vals[8];  // int8x4 of coordinates 4k..4k+3 (vals[k]) and 16+4k.. (vals[4+k]) of the chunk
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint32_t w = words[(((v / kTile) * C + c) * kTile + 4 * (lv % 8) + k) * 4 + lv / 8];
        dequant_word(w, t0, t1, vals[k], vals[4 + k]);
      }
      uint4* dst = reinterpret_cast<uint4*>(out + vl * q.dp + size_t(c) * 32);
      dst[0] = make_uint4(vals[0], vals[1], vals[2], vals[3]);
      dst[1] = make_uint4(vals[4], vals[5], vals[6], vals[7]);
    } else {
      *reinterpret_cast<uint4*>(out + vl * q.dp + size_t(c) * 16) = tiles[((v / kTile) * C + c) * kTile + (v % kTile)];
    }
  }
}

}  // namespace

namespace {

/// Top-K list length per query of the fused scan for K candidates.
int fused_list_length(const QuantView& q, int K) {
  int B = 64;
  if (q.nibble) {  // lists of 2K (at least 64): full lists make the block compact and re-offer (TopKLists::settle)
    while (B < 2 * K) B *= 2;
  } else {  // room for a whole round of offers (TopKLists::end_round)
    B = 1;
    while (B < K + kScanThreads) B *= 2;
  }
  return B;
}

/// Shared memory of a fused scan block for `batch` queries per pass and lists of B.
size_t fused_smem(const QuantView& q, int batch, int B) {
  if (q.nibble) {  // A rows of one (≤ 16 queries) or two query groups, row stride dp + 16
    const int rows = batch > 16 ? 32 : 16;
    return size_t(rows) * (q.dp + 16) + size_t(batch) * B * sizeof(Cand) + 8 * size_t(batch) + 16;
  }
  return size_t(batch) * q.dp + size_t(batch) * B * sizeof(Cand) + 8 * size_t(batch) + 16;
}

}  // namespace

bool fused_scan_fits(const QuantView& q, int K) {
  int dev = 0, optin = 0;
  TQ_CUDA_CHECK(cudaGetDevice(&dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return K >= 1 && K <= 2048 && fused_smem(q, 1, fused_list_length(q, K)) <= size_t(optin);
}

FusedScanPlan plan_fused_scan(const QuantView& q, size_t n, int nq, int K) {
  TQ_CHECK(K >= 1 && K <= 2048, "GPU fused scan: K must be in 1..2048, got " << K);
  FusedScanPlan p;
  p.B = fused_list_length(q, K);
  if (q.nibble) {  // tensor-core scan: up to 16 (one A tile) or 32 (two) queries per pass
    p.ldq = q.dp + 16;
    p.batch = std::min(std::max(nq, 1), 32);
    while (p.batch > 1 && fused_smem(q, p.batch, p.B) > kScanSmemTarget) p.batch = p.batch > 16 ? 16 : p.batch - 1;
  } else {
    p.ldq = q.dp;
    int want = 1;
    while (want < nq && want < 32) want *= 2;
    p.batch = want;
    while (p.batch > 1 && fused_smem(q, p.batch, p.B) > kScanSmemTarget) p.batch /= 2;
  }
  p.smem = fused_smem(q, p.batch, p.B);
  int dev = 0, sms = 0, optin = 0;
  TQ_CUDA_CHECK(cudaGetDevice(&dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  TQ_CHECK(p.smem <= size_t(optin), "GPU fused scan: needs " << p.smem << " bytes of shared memory (K = " << K
                                                             << ", d = " << q.d << "), the device allows " << optin
                                                             << " (GpuSearchParams::gemm_min_batch = -1 or >= 1 "
                                                                "takes the GEMM path instead)");
  const int occ = std::max(1, occupancy_for(q, p.batch, p.smem));
  const size_t ntiles = (n + kTile - 1) / kTile;
  const size_t need = (ntiles + kScanWarps - 1) / kScanWarps;
  p.blocks = static_cast<int>(std::max<size_t>(1, std::min<size_t>(need, size_t(sms) * occ)));
  return p;
}

void launch_fused_scan(const QuantView& q, const FusedScanPlan& plan, const FusedScanArgs& args, Cand* out,
                       cudaStream_t stream) {
  if (args.nq == 0) return;
  TQ_CHECK(args.nq <= plan.batch, "GPU fused scan: " << args.nq << " queries exceed the pass size " << plan.batch);
  if (q.nibble) {
    return launch_mma(plan, q, args, out, stream);
  }
  switch (plan.batch) {
    case 1: return launch_dp4a<1>(q, plan, args, out, stream);
    case 2: return launch_dp4a<2>(q, plan, args, out, stream);
    case 4: return launch_dp4a<4>(q, plan, args, out, stream);
    case 8: return launch_dp4a<8>(q, plan, args, out, stream);
    case 16: return launch_dp4a<16>(q, plan, args, out, stream);
    case 32: return launch_dp4a<32>(q, plan, args, out, stream);
    default: TQ_THROW("GPU fused scan: unsupported query batch " << plan.batch);
  }
}

void launch_dequant_int8(const QuantView& q, const uint4* tiles, size_t v0, size_t count, int8_t* out,
                         cudaStream_t stream) {
  if (count == 0) return;
  const size_t total = count * q.chunks;
  const int blocks = static_cast<int>(std::min<size_t>((total + 255) / 256, 65535));
  dequant_int8_kernel<<<blocks, 256, 0, stream>>>(q, tiles, v0, count, out);
  TQ_CHECK_LAUNCH("dequant_int8_kernel");
}

}  // namespace tqsearch::gpu::internal
