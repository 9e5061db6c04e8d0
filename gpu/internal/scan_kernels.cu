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

template <int NQ, bool NIBBLE>
__global__ void __launch_bounds__(kScanThreads) fused_scan_kernel(QuantView q, FusedScanArgs a, int B, Cand* out) {
  extern __shared__ __align__(16) unsigned char smem[];
  int8_t* q8s = reinterpret_cast<int8_t*>(smem);
  const int dp = q.dp;
  TopKLists lists;
  lists.buf = reinterpret_cast<Cand*>(smem + size_t(NQ) * dp);
  lists.cnt = reinterpret_cast<int*>(lists.buf + size_t(NQ) * B);
  lists.thr = reinterpret_cast<float*>(lists.cnt + NQ);
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
  for (int i = 0; i < NQ; ++i) qa[i] = i < a.nq ? a.qscale[i] * q.tscale : 0.0f;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int C = q.chunks;
  const uint32_t t0 = q.table_words[0], t1 = q.table_words[1], t2 = q.table_words[2], t3 = q.table_words[3];
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
          if constexpr (NIBBLE) {
            uint32_t v[8];
            dequant_word(w[u].x, t0, t1, t2, t3, v[0], v[1]);
            dequant_word(w[u].y, t0, t1, t2, t3, v[2], v[3]);
            dequant_word(w[u].z, t0, t1, t2, t3, v[4], v[5]);
            dequant_word(w[u].w, t0, t1, t2, t3, v[6], v[7]);
#pragma unroll
            for (int i = 0; i < NQ; ++i) {
              const int4* qp = reinterpret_cast<const int4*>(q8s + size_t(i) * dp + size_t(c) * 32);
              const int4 qx = qp[0], qy = qp[1];
              int s = acc[i];
              s = __dp4a(int(v[0]), qx.x, s);
              s = __dp4a(int(v[1]), qx.y, s);
              s = __dp4a(int(v[2]), qx.z, s);
              s = __dp4a(int(v[3]), qx.w, s);
              s = __dp4a(int(v[4]), qy.x, s);
              s = __dp4a(int(v[5]), qy.y, s);
              s = __dp4a(int(v[6]), qy.z, s);
              s = __dp4a(int(v[7]), qy.w, s);
              acc[i] = s;
            }
          } else {
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
            float s = fv * (qa[i] * float(acc[i]));
            if (a.l2) s = 2.0f * s - nn;
            lists.offer(i, s, static_cast<int32_t>(v));
          }
        }
      }
    }
    lists.end_round(NQ, 1);
  }
  lists.write(a.nq, out + size_t(blockIdx.x) * a.K, static_cast<int>(gridDim.x) * a.K);
}

template <int NQ, bool NIBBLE>
void launch_one(const QuantView& q, const FusedScanPlan& plan, const FusedScanArgs& args, Cand* out,
                cudaStream_t stream) {
  auto kernel = fused_scan_kernel<NQ, NIBBLE>;
  TQ_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(plan.smem)));
  kernel<<<plan.blocks, kScanThreads, plan.smem, stream>>>(q, args, plan.B, out);
  TQ_CHECK_LAUNCH("fused_scan_kernel");
}

template <bool NIBBLE>
void dispatch(const QuantView& q, const FusedScanPlan& plan, const FusedScanArgs& args, Cand* out,
              cudaStream_t stream) {
  switch (plan.batch) {
    case 1: return launch_one<1, NIBBLE>(q, plan, args, out, stream);
    case 2: return launch_one<2, NIBBLE>(q, plan, args, out, stream);
    case 4: return launch_one<4, NIBBLE>(q, plan, args, out, stream);
    case 8: return launch_one<8, NIBBLE>(q, plan, args, out, stream);
    case 16: return launch_one<16, NIBBLE>(q, plan, args, out, stream);
    case 32: return launch_one<32, NIBBLE>(q, plan, args, out, stream);
    default: TQ_THROW("GPU fused scan: unsupported query batch " << plan.batch);
  }
}

template <int NQ, bool NIBBLE>
int occupancy(size_t smem) {
  int blocks = 0;
  auto kernel = fused_scan_kernel<NQ, NIBBLE>;
  TQ_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  TQ_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kScanThreads, smem));
  return blocks;
}

template <bool NIBBLE>
int occupancy_for(int batch, size_t smem) {
  switch (batch) {
    case 1: return occupancy<1, NIBBLE>(smem);
    case 2: return occupancy<2, NIBBLE>(smem);
    case 4: return occupancy<4, NIBBLE>(smem);
    case 8: return occupancy<8, NIBBLE>(smem);
    case 16: return occupancy<16, NIBBLE>(smem);
    default: return occupancy<32, NIBBLE>(smem);
  }
}

__global__ void dequant_fp16_kernel(QuantView q, const uint4* __restrict__ tiles, size_t v0, size_t count,
                                    __half* __restrict__ out) {
  const int C = q.chunks;
  const uint32_t t0 = q.table_words[0], t1 = q.table_words[1], t2 = q.table_words[2], t3 = q.table_words[3];
  const size_t total = count * C;
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x) {
    const size_t vl = e / C;
    const int c = static_cast<int>(e % C);
    const size_t v = v0 + vl;
    const uint4 w = tiles[((v / kTile) * C + c) * kTile + (v % kTile)];
    uint32_t vals[8];
    int nwords;
    if (q.nibble) {
      dequant_word(w.x, t0, t1, t2, t3, vals[0], vals[1]);
      dequant_word(w.y, t0, t1, t2, t3, vals[2], vals[3]);
      dequant_word(w.z, t0, t1, t2, t3, vals[4], vals[5]);
      dequant_word(w.w, t0, t1, t2, t3, vals[6], vals[7]);
      nwords = 8;
    } else {
      vals[0] = w.x;
      vals[1] = w.y;
      vals[2] = w.z;
      vals[3] = w.w;
      nwords = 4;
    }
    // 4 int8 → 4 halves (8 bytes) per word; two words per 16-byte store.
    uint4* dst = reinterpret_cast<uint4*>(out + vl * q.dp + size_t(c) * (nwords * 4));
    for (int k = 0; k < nwords; k += 2) {
      uint32_t h[4];
      for (int w = 0; w < 2; ++w) {
        const uint32_t u = vals[k + w];
        const __half2 lo = __floats2half2_rn(float(int8_t(u & 0xFF)), float(int8_t((u >> 8) & 0xFF)));
        const __half2 hi = __floats2half2_rn(float(int8_t((u >> 16) & 0xFF)), float(int8_t(u >> 24)));
        h[2 * w] = *reinterpret_cast<const uint32_t*>(&lo);
        h[2 * w + 1] = *reinterpret_cast<const uint32_t*>(&hi);
      }
      dst[k / 2] = make_uint4(h[0], h[1], h[2], h[3]);
    }
  }
}

}  // namespace

FusedScanPlan plan_fused_scan(const QuantView& q, size_t n, int nq, int K) {
  TQ_CHECK(K >= 1 && K <= 2048, "GPU fused scan: K must be in 1..2048, got " << K);
  FusedScanPlan p;
  int B = 1;
  while (B < K + kScanThreads) B *= 2;
  p.B = B;
  int want = 1;
  while (want < nq && want < 32) want *= 2;
  p.batch = want;
  auto smem_of = [&](int batch) { return size_t(batch) * q.dp + size_t(batch) * B * sizeof(Cand) + 8 * batch + 16; };
  while (p.batch > 1 && smem_of(p.batch) > kScanSmemTarget) p.batch /= 2;
  p.smem = smem_of(p.batch);
  int dev = 0, sms = 0, optin = 0;
  TQ_CUDA_CHECK(cudaGetDevice(&dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  TQ_CHECK(p.smem <= size_t(optin), "GPU fused scan: needs " << p.smem << " bytes of shared memory (K = " << K
                                                             << ", d = " << q.d << "), the device allows " << optin);
  const int occ = std::max(1, q.nibble ? occupancy_for<true>(p.batch, p.smem) : occupancy_for<false>(p.batch, p.smem));
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
    dispatch<true>(q, plan, args, out, stream);
  } else {
    dispatch<false>(q, plan, args, out, stream);
  }
}

void launch_dequant_fp16(const QuantView& q, const uint4* tiles, size_t v0, size_t count, __half* out,
                         cudaStream_t stream) {
  if (count == 0) return;
  const size_t total = count * q.chunks;
  const int blocks = static_cast<int>(std::min<size_t>((total + 255) / 256, 65535));
  dequant_fp16_kernel<<<blocks, 256, 0, stream>>>(q, tiles, v0, count, out);
  TQ_CHECK_LAUNCH("dequant_fp16_kernel");
}

}  // namespace tqsearch::gpu::internal
