// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/gpu_brute_force.h"

#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "gpu/gpu_device.h"
#include "gpu/internal/cuda_check.cuh"
#include "gpu/internal/device_buffer.cuh"
#include "gpu/internal/select_kernels.cuh"
#include "quant/error.h"

namespace tqsearch::gpu {

using internal::Cand;
using internal::DeviceBuffer;
using internal::DeviceScope;

namespace {

__global__ void to_half_kernel(const float* __restrict__ x, size_t total, __half* __restrict__ out) {
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x)
    out[e] = __float2half_rn(x[e]);
}

__global__ void sqnorm_kernel(const float* __restrict__ x, size_t n, int d, float* __restrict__ out) {
  const int lane = threadIdx.x & 31;
  const size_t warp = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) / 32;
  const size_t nwarps = size_t(gridDim.x) * blockDim.x / 32;
  for (size_t v = warp; v < n; v += nwarps) {
    double s = 0;
    for (int j = lane; j < d; j += 32) s += double(x[v * d + j]) * x[v * d + j];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) out[v] = static_cast<float>(s);
  }
}

int grid_for(size_t total) { return static_cast<int>(std::min<size_t>((total + 255) / 256, 8192)); }

}  // namespace

struct GpuBruteForce::Impl {
  int d = 0;
  Metric metric = Metric::kInnerProduct;
  BruteForcePrecision prec = BruteForcePrecision::kFp16;
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  size_t n = 0, cap = 0;
  DeviceBuffer<__half> xh;
  DeviceBuffer<float> xf, sqn;
  mutable DeviceBuffer<float> qf, scores_f, tmp;
  mutable DeviceBuffer<__half> qh, scores_h;
  mutable DeviceBuffer<Cand> cand, merged;

  size_t elem() const { return prec == BruteForcePrecision::kFp16 ? 2 : 4; }

  void reserve(size_t need) {
    if (need <= cap) return;
    const size_t c = std::max(need, cap + cap / 2);
    if (prec == BruteForcePrecision::kFp16) {
      xh.grow_keep(c * d, n * d, stream, "brute-force vectors");
    } else {
      xf.grow_keep(c * d, n * d, stream, "brute-force vectors");
    }
    sqn.grow_keep(c, n, stream, "brute-force norms");
    cap = c;
  }

  /// x: device float32 rows on this device.
  void append(size_t cnt, const float* x) {
    reserve(n + cnt);
    if (prec == BruteForcePrecision::kFp16) {
      to_half_kernel<<<grid_for(cnt * d), 256, 0, stream>>>(x, cnt * d, xh.get() + n * d);
      TQ_CHECK_LAUNCH("to_half_kernel");
    } else {
      TQ_CUDA_CHECK(cudaMemcpyAsync(xf.get() + n * d, x, cnt * d * sizeof(float), cudaMemcpyDeviceToDevice, stream));
    }
    sqnorm_kernel<<<grid_for(cnt * 32), 256, 0, stream>>>(x, cnt, d, sqn.get() + n);
    TQ_CHECK_LAUNCH("sqnorm_kernel");
    TQ_CUDA_CHECK(cudaStreamSynchronize(stream));
    n += cnt;
  }
};

GpuBruteForce::GpuBruteForce(int d, Metric metric, BruteForcePrecision precision, int device)
    : impl_(std::make_unique<Impl>()) {
  TQ_CHECK(d >= 1, "GpuBruteForce: dimension d must be >= 1, got " << d);
  TQ_CHECK(metric == Metric::kInnerProduct || metric == Metric::kL2, "GpuBruteForce: unknown metric");
  const int ndev = device_count();
  TQ_CHECK(ndev > 0, "GpuBruteForce: no CUDA device available (" << no_device_reason() << ")");
  TQ_CHECK(device >= 0 && device < ndev, "GpuBruteForce: device " << device << " is not visible (" << ndev << ")");
  impl_->d = d;
  impl_->metric = metric;
  impl_->prec = precision;
  impl_->device = device;
  DeviceScope scope(device);
  TQ_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  TQ_CUBLAS_CHECK(cublasCreate(&impl_->cublas));
  TQ_CUBLAS_CHECK(cublasSetStream(impl_->cublas, impl_->stream));
}

GpuBruteForce::~GpuBruteForce() {
  int prev = -1;
  cudaGetDevice(&prev);
  cudaSetDevice(impl_->device);
  if (impl_->stream) cudaStreamSynchronize(impl_->stream);
  if (impl_->cublas) cublasDestroy(impl_->cublas);
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
  if (prev >= 0) cudaSetDevice(prev);
}

int GpuBruteForce::d() const { return impl_->d; }
size_t GpuBruteForce::ntotal() const { return impl_->n; }
size_t GpuBruteForce::device_memory_bytes() const { return impl_->xh.bytes() + impl_->xf.bytes() + impl_->sqn.bytes(); }

void GpuBruteForce::add(size_t n, const float* x) {
  if (n == 0) return;
  TQ_CHECK(x != nullptr, "GpuBruteForce::add: null input");
  for (size_t i = 0; i < n * size_t(impl_->d); ++i)
    TQ_CHECK(std::isfinite(x[i]), "GpuBruteForce::add: row " << i / impl_->d << " has a non-finite value");
  DeviceScope scope(impl_->device);
  const size_t batch = size_t(1) << 18;
  DeviceBuffer<float> buf(std::min(batch, n) * impl_->d, "brute-force staging");
  for (size_t r = 0; r < n; r += batch) {
    const size_t cnt = std::min(batch, n - r);
    TQ_CUDA_CHECK(cudaMemcpyAsync(buf.get(), x + r * impl_->d, cnt * impl_->d * sizeof(float), cudaMemcpyHostToDevice,
                                  impl_->stream));
    impl_->append(cnt, buf.get());
  }
}

void GpuBruteForce::add_from_device(size_t n, const float* x) {
  if (n == 0) return;
  TQ_CHECK(x != nullptr, "GpuBruteForce::add_from_device: null input");
  DeviceScope scope(impl_->device);
  impl_->append(n, x);
}

void GpuBruteForce::search(size_t nq, const float* queries, int k, float* distances, int64_t* labels) const {
  TQ_CHECK(k >= 1 && k <= 1024, "GpuBruteForce::search: k must be in 1..1024, got " << k);
  if (nq == 0) return;
  TQ_CHECK(queries != nullptr && distances != nullptr && labels != nullptr, "GpuBruteForce::search: null pointer");
  Impl& m = *impl_;
  const int d = m.d;
  for (size_t i = 0; i < nq * size_t(d); ++i)
    TQ_CHECK(std::isfinite(queries[i]), "GpuBruteForce::search: query " << i / d << " has a non-finite value");
  const bool l2 = m.metric == Metric::kL2;
  const float pad = l2 ? FLT_MAX : -FLT_MAX;
  if (m.n == 0) {
    std::fill(distances, distances + nq * k, pad);
    std::fill(labels, labels + nq * k, int64_t(-1));
    return;
  }
  DeviceScope scope(m.device);
  const int kk = static_cast<int>(std::min<size_t>(k, m.n));
  const bool half = m.prec == BruteForcePrecision::kFp16;
  const size_t qchunk = 4096;
  std::vector<Cand> res;
  for (size_t q0 = 0; q0 < nq; q0 += qchunk) {
    const size_t cnt = std::min(qchunk, nq - q0);
    m.qf.resize(cnt * d, "queries");
    TQ_CUDA_CHECK(cudaMemcpyAsync(m.qf.get(), queries + q0 * d, cnt * d * sizeof(float), cudaMemcpyHostToDevice,
                                  m.stream));
    if (half) {
      m.qh.resize(cnt * d, "fp16 queries");
      to_half_kernel<<<grid_for(cnt * d), 256, 0, m.stream>>>(m.qf.get(), cnt * d, m.qh.get());
      TQ_CHECK_LAUNCH("to_half_kernel");
    }
    size_t tv = std::min<size_t>((size_t(1) << 30) / (cnt * m.elem()), m.n);
    tv = std::max<size_t>(32, tv / 32 * 32);
    tv = std::min(tv, m.n);
    const size_t ntv = (m.n + tv - 1) / tv;
    int sms = 0;
    TQ_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, m.device));
    int seg = static_cast<int>(std::max<size_t>(1, (size_t(sms) * 4 + cnt - 1) / cnt));
    seg = static_cast<int>(std::min<size_t>(seg, std::max<size_t>(1, tv / 4096)));
    const int lists = static_cast<int>(ntv) * seg;
    m.cand.resize(cnt * lists * kk, "candidates");
    if (half) {
      m.scores_h.resize(tv * cnt, "scores");
    } else {
      m.scores_f.resize(tv * cnt, "scores");
    }
    internal::ScoreTransform tf;
    tf.sqnorm = m.sqn.get();
    tf.l2 = l2;
    const float alpha = 1.0f, beta = 0.0f;
    for (size_t t = 0; t < ntv; ++t) {
      const size_t v0 = t * tv, c = std::min(tv, m.n - v0);
      if (half) {
        TQ_CUBLAS_CHECK(cublasGemmEx(m.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(c), static_cast<int>(cnt), d,
                                     &alpha, m.xh.get() + v0 * d, CUDA_R_16F, d, m.qh.get(), CUDA_R_16F, d, &beta,
                                     m.scores_h.get(), CUDA_R_16F, static_cast<int>(c), CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
        internal::launch_select_scores<__half>(m.scores_h.get(), c, c, static_cast<int>(cnt), int64_t(v0), tf, kk, seg,
                                               m.cand.get(), lists, static_cast<int>(t) * seg, m.stream);
      } else {
        TQ_CUBLAS_CHECK(cublasGemmEx(m.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(c), static_cast<int>(cnt), d,
                                     &alpha, m.xf.get() + v0 * d, CUDA_R_32F, d, m.qf.get(), CUDA_R_32F, d, &beta,
                                     m.scores_f.get(), CUDA_R_32F, static_cast<int>(c), CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT));
        internal::launch_select_scores<float>(m.scores_f.get(), c, c, static_cast<int>(cnt), int64_t(v0), tf, kk, seg,
                                              m.cand.get(), lists, static_cast<int>(t) * seg, m.stream);
      }
    }
    m.merged.resize(cnt * kk, "merged");
    internal::launch_merge(m.cand.get(), static_cast<int>(cnt), lists, kk, kk, m.merged.get(), m.stream);
    res.resize(cnt * kk);
    TQ_CUDA_CHECK(cudaMemcpyAsync(res.data(), m.merged.get(), res.size() * sizeof(Cand), cudaMemcpyDeviceToHost,
                                  m.stream));
    TQ_CUDA_CHECK(cudaStreamSynchronize(m.stream));
    for (size_t i = 0; i < cnt; ++i) {
      double qq = 0;
      for (int j = 0; j < d; ++j) qq += double(queries[(q0 + i) * d + j]) * queries[(q0 + i) * d + j];
      float* D = distances + (q0 + i) * k;
      int64_t* I = labels + (q0 + i) * k;
      for (int r = 0; r < k; ++r) {
        const Cand c = r < kk ? res[i * kk + r] : Cand{-FLT_MAX, -1};
        if (c.id < 0) {
          D[r] = pad;
          I[r] = -1;
        } else {
          D[r] = l2 ? static_cast<float>(qq) - c.s : c.s;
          I[r] = c.id;
        }
      }
    }
  }
}

}  // namespace tqsearch::gpu
