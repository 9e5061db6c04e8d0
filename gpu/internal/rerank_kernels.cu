// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/internal/rerank_kernels.cuh"

#include <algorithm>

#include "gpu/internal/cuda_check.cuh"
#include "quant/error.h"

namespace tqsearch::gpu::internal {
namespace {

constexpr int kRerankThreads = 128;

__device__ inline float load_f32(const uint8_t* p) {
  return __uint_as_float(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24));
}

/// Sequential, single-rounding arithmetic in the CPU's order (TurboQuantizer::dot_rotated / qjl_correction /
/// inner_product; FlatScanner's L2 form 2·ip − n·n).
__device__ float exact_score(const QuantView& q, const RerankArgs& a, int qi, int32_t id) {
  const uint8_t* code = a.row_codes + size_t(id) * q.code_size;
  const float* qr = a.rotated + size_t(qi) * q.d;
  float dot = 0.0f;
  int bit = 0;
  for (int j = 0; j < q.d; ++j) {
    const bool hi = j < q.num_high;
    const int w = hi ? q.high_bits : q.low_bits;
    const int byte = bit >> 3, sh = bit & 7;
    uint32_t v = code[byte];
    if (sh + w > 8) v |= uint32_t(code[byte + 1]) << 8;
    const int idx = int((v >> sh) & ((1u << w) - 1));
    bit += w;
    const float c = __ldg((hi ? q.cent_high : q.cent_low) + idx);
    dot = __fadd_rn(dot, __fmul_rn(qr[j], c));
  }
  float norm;
  if (q.fp16_norm) {
    const unsigned short h = static_cast<unsigned short>(code[q.norm_offset] | (code[q.norm_offset + 1] << 8));
    norm = __half2float(__ushort_as_half(h));
  } else {
    norm = load_f32(code + q.norm_offset);
  }
  float ip;
  if (a.estimator == 1) {  // renorm
    ip = __fdiv_rn(__fmul_rn(norm, dot), load_f32(code + q.renorm_offset));
  } else if (a.estimator == 2) {  // QJL
    const uint8_t* sg = code + q.sign_offset;
    const float* s = a.sketch + size_t(qi) * q.d;
    float acc = 0.0f;
    for (int j = 0; j < q.d; ++j) acc = __fadd_rn(acc, ((sg[j >> 3] >> (j & 7)) & 1) ? s[j] : -s[j]);
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
  Cand* buf = reinterpret_cast<Cand*>(smem);
  const int qi = blockIdx.x;
  for (int i = threadIdx.x; i < B; i += blockDim.x) {
    Cand c{-FLT_MAX, INT_MAX};
    if (i < kc) {
      const Cand in = cands[size_t(qi) * kc + i];
      if (in.id >= 0) c = Cand{a.rerank ? exact_score(q, a, qi, in.id) : in.s, in.id};
    }
    buf[i] = c;
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
  const size_t smem = sizeof(Cand) * B;
  TQ_CUDA_CHECK(cudaFuncSetAttribute(rerank_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  rerank_kernel<<<nq, kRerankThreads, smem, stream>>>(q, a, cands, kc, k, B, out);
  TQ_CHECK_LAUNCH("rerank_kernel");
}

}  // namespace tqsearch::gpu::internal
