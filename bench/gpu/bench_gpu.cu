// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// bench_gpu: TurboQuant GPU index vs exact fp16 brute force (cuBLAS GEMM + top-k), same program, same data.
//
// Data: clustered Gaussian mixture generated on the GPU (no host transfer). For each configuration and
// nq ∈ {1, 16, 256, 4096}: QPS (median wall time of search() including the query upload and result download),
// 10-recall@10 against exact fp32 brute force, achieved GB/s of code reads and the card's device-to-device copy
// bandwidth (read + write) measured in the same run. Also the GPU encode rate (add_from_device).
//
// Usage: bench_gpu [--quick] [--configs 1536,128] [--nq 1,16,256,4096] [--variants 01234567] [--out results.tsv]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "gpu/gpu_brute_force.h"
#include "gpu/gpu_device.h"
#include "gpu/gpu_index_turbo_quant.h"
#include "quant/error.h"

namespace {

using tqsearch::Estimator;
using tqsearch::Metric;
using namespace tqsearch::gpu;

#define CK(call)                                                                                       \
  do {                                                                                                 \
    cudaError_t e_ = (call);                                                                           \
    if (e_ != cudaSuccess) {                                                                           \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, #call); \
      throw tqsearch::Error(cudaGetErrorString(e_));                                                   \
    }                                                                                                  \
  } while (0)

__device__ inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
__device__ inline float gauss(uint64_t seed, uint64_t i) {
  const uint64_t a = mix64(seed * 0x9e3779b97f4a7c15ull + 2 * i + 1), b = mix64(a + 0x632be59bd9b4e019ull);
  const float u1 = (float((a >> 40) + 1)) * (1.0f / 16777217.0f), u2 = float(b >> 40) * (1.0f / 16777216.0f);
  return sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
}

__global__ void centers_kernel(float* c, size_t total, uint64_t seed) {
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x)
    c[e] = gauss(seed, e);
}

/// x[i] = center[h(i) mod C] + sigma·noise; normalized when `unit`.
__global__ void mixture_kernel(const float* centers, int C, float sigma, float* x, size_t n, int d, uint64_t seed,
                               bool unit) {
  const int lane = threadIdx.x & 31;
  const size_t warp = (blockIdx.x * size_t(blockDim.x) + threadIdx.x) / 32;
  const size_t nw = size_t(gridDim.x) * blockDim.x / 32;
  for (size_t i = warp; i < n; i += nw) {
    const int c = int(mix64(seed ^ (i * 0x2545F4914F6CDD1Dull)) % C);
    float ss = 0;
    for (int j = lane; j < d; j += 32) {
      const float v = centers[size_t(c) * d + j] + sigma * gauss(seed + 17, i * d + j);
      x[i * d + j] = v;
      ss += v * v;
    }
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if (unit) {
      const float inv = rsqrtf(ss);
      for (int j = lane; j < d; j += 32) x[i * d + j] *= inv;
    }
  }
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Device-to-device copy bandwidth, bytes read + written per second (median of 10 copies of 2 GiB).
double copy_bandwidth() {
  const size_t bytes = size_t(2) << 30;
  void *a = nullptr, *b = nullptr;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMemset(a, 1, bytes));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<double> t;
  for (int i = 0; i < 12; ++i) {
    CK(cudaEventRecord(e0));
    CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    if (i >= 2) t.push_back(ms * 1e-3);
  }
  CK(cudaFree(a));
  CK(cudaFree(b));
  return 2.0 * bytes / median(t);
}

struct Row {
  std::string config, method;
  size_t nq;
  double qps, recall, top1, gbps, copy_frac, ms;
  bool gemm;
};

/// Fraction of queries whose true nearest neighbour is among the k results (the paper's recall@1@k).
double top1_in(const std::vector<int64_t>& I, const std::vector<int64_t>& gt, size_t nq, int k) {
  size_t hits = 0;
  for (size_t i = 0; i < nq; ++i)
    for (int r = 0; r < k; ++r) hits += I[i * k + r] == gt[i * k];
  return double(hits) / double(nq);
}

double recall_at(const std::vector<int64_t>& I, const std::vector<int64_t>& gt, size_t nq, int k) {
  size_t hits = 0;
  for (size_t i = 0; i < nq; ++i) {
    std::set<int64_t> t(gt.begin() + i * k, gt.begin() + (i + 1) * k);
    for (int r = 0; r < k; ++r) hits += t.count(I[i * k + r]);
  }
  return double(hits) / (double(nq) * k);
}

template <typename F>
double time_median(F&& f, double min_total, int min_reps) {
  f();  // warm-up
  std::vector<double> t;
  double total = 0;
  while (int(t.size()) < min_reps || total < min_total) {
    const double t0 = now();
    f();
    const double dt = now() - t0;
    t.push_back(dt);
    total += dt;
    if (t.size() >= 200) break;
  }
  return median(t);
}

struct Filter {
  std::vector<size_t> nqs{1, 16, 256, 4096};
  std::string variants = "01234567";  // indices into kNames (6, 7: fused-only / GEMM-only path comparison)
};

void run_config(size_t nb, int d, Metric metric, bool unit, double bw, bool quick, const Filter& filter,
                std::vector<Row>& rows, FILE* tsv) {
  const int k = 10;
  const size_t nq_max = 4096, ngt = quick ? 200 : 1000;
  const int C = 1024;
  char cfg[96];
  std::snprintf(cfg, sizeof cfg, "%zux%d %s", nb, d, metric == Metric::kL2 ? "L2" : "IP");
  std::printf("\n=== %s: generating clustered data on the GPU (C=%d clusters)\n", cfg, C);
  float *dc = nullptr, *dx = nullptr, *dq = nullptr;
  CK(cudaMalloc(&dc, sizeof(float) * C * d));
  CK(cudaMalloc(&dx, sizeof(float) * nb * d));
  CK(cudaMalloc(&dq, sizeof(float) * nq_max * d));
  centers_kernel<<<1024, 256>>>(dc, size_t(C) * d, 1);
  // Spread: cluster noise comparable to the center spread, so neighbours are not trivially the cluster mates.
  const float sigma = 0.7f;
  mixture_kernel<<<8192, 256>>>(dc, C, sigma, dx, nb, d, 2, unit);
  mixture_kernel<<<1024, 256>>>(dc, C, sigma, dq, nq_max, d, 3, unit);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<float> hq(nq_max * d);
  CK(cudaMemcpy(hq.data(), dq, sizeof(float) * hq.size(), cudaMemcpyDeviceToHost));

  // Ground truth: exact fp32 brute force on the first ngt queries.
  std::vector<int64_t> gt(ngt * k);
  {
    GpuBruteForce exact(d, metric, BruteForcePrecision::kFp32, 0);
    exact.add_from_device(nb, dx);
    std::vector<float> D(ngt * k);
    const double t0 = now();
    exact.search(ngt, hq.data(), k, D.data(), gt.data());
    std::printf("ground truth (fp32 brute force, %zu queries): %.2f s\n", ngt, now() - t0);
  }

  // TurboQuant 4-bit + renorm factor.
  tqsearch::TurboQuantizerOptions o;
  o.bits = 4;
  o.store_renorm = true;
  GpuIndexConfig gcfg;
  gcfg.devices = {0};
  gcfg.add_batch = size_t(1) << 20;
  GpuIndexTurboQuant tq(d, o, metric, gcfg);
  // Same codes + raw vectors for the exact refine stage (fp16 and fp32 storage).
  GpuIndexConfig rcfg16 = gcfg, rcfg32 = gcfg;
  rcfg16.refine = RefineStorage::kFp16;
  rcfg32.refine = RefineStorage::kFp32;
  GpuIndexTurboQuant tq16(d, o, metric, rcfg16), tq32(d, o, metric, rcfg32);
  CK(cudaDeviceSynchronize());
  double t0 = now();
  tq.add_from_device(nb, dx, 0);
  CK(cudaDeviceSynchronize());
  const double enc_s = now() - t0;
  std::printf("TQ encode (add_from_device, incl. NaN check): %zu vectors in %.3f s = %.1f M vectors/s; code %zu B/vector, "
              "device memory %.2f GiB\n",
              nb, enc_s, nb / enc_s / 1e6, tq.code_size(), tq.device_memory_bytes() / double(1 << 30));
  {  // encode again into a fresh index: steady-state rate (allocations warm)
    GpuIndexTurboQuant tq2(d, o, metric, gcfg);
    tq2.add_from_device(std::min<size_t>(nb, 1000000), dx, 0);
    tq2.reset();
    CK(cudaDeviceSynchronize());
    t0 = now();
    tq2.add_from_device(nb, dx, 0);
    CK(cudaDeviceSynchronize());
    const double s2 = now() - t0;
    std::printf("TQ encode, second run into reserved memory: %.1f M vectors/s\n", nb / s2 / 1e6);
    if (tsv) std::fprintf(tsv, "%s\tencode\t%zu\t%.4f\t\t\t\t%.1f\n", cfg, nb, s2, nb / s2 / 1e6);
  }

  tq16.add_from_device(nb, dx, 0);
  tq32.add_from_device(nb, dx, 0);
  const double bpv_tq = double(tq.device_memory_bytes()) / nb, bpv16 = double(tq16.device_memory_bytes()) / nb,
               bpv32 = double(tq32.device_memory_bytes()) / nb;
  std::printf("device bytes/vector: TQ4 %.1f (row code %zu + scan layout %d + factors 12), + fp16 refine %.1f, "
              "+ fp32 refine %.1f, fp16 brute force %d\n",
              bpv_tq, tq.code_size(), (d + 31) / 32 * 16, bpv16, bpv32, 2 * d);
  if (tsv)
    std::fprintf(tsv, "%s\tbytes_per_vector\t0\t%.1f\t%.1f\t%.1f\t\t\t%d\n", cfg, bpv_tq, bpv16, bpv32, 2 * d);
  GpuBruteForce bf(d, metric, BruteForcePrecision::kFp16, 0);
  bf.add_from_device(nb, dx);
  CK(cudaFree(dx));
  CK(cudaFree(dq));
  CK(cudaFree(dc));

  const int dp = (d + 31) / 32 * 32;
  const double code_bytes = double(nb) * dp / 2;  // 4-bit scan layout
  for (size_t nq : filter.nqs) {
    if (quick && nq == 4096) continue;
    static const char* kNames[] = {"TQ4+renorm rr4",     "TQ4+renorm rr16",    "TQ4 +fp16 refine x4",
                                   "TQ4 +fp16 refine x16", "TQ4 +fp32 refine x4", "fp16 brute force",
                                   "TQ4 rr4 fused only",  "TQ4 rr4 GEMM only"};
    constexpr int kBF = 5;
    for (int variant = 0; variant <= 7; ++variant) {
      // 0: TQ rerank ×4 (default path choice), 1: TQ rerank ×16 (nq ≤ 16 only), 2–4: scan top k·refine_factor →
      // exact refine with the raw vectors kept on the GPU, 5: fp16 brute force
      if (variant == 1 && nq > 16) continue;
      if (variant == 7 && nq < 16) continue;  // the GEMM path only for batches
      if (filter.variants.find(char('0' + variant)) == std::string::npos) continue;
      GpuSearchParams p;
      p.estimator = Estimator::kRenorm;
      p.rerank_factor = variant == 1 ? 16 : (variant >= 2 && variant <= 4) ? 0 : 4;
      p.refine_factor = variant == 2 || variant == 4 ? 4 : variant == 3 ? 16 : 0;
      if (variant == 6) p.gemm_min_batch = 0;  // path comparison: fused scan only / int8 GEMM only
      if (variant == 7) p.gemm_min_batch = 1;
      GpuIndexTurboQuant& index = variant == 4 ? tq32 : (variant >= 2 && variant <= 3) ? tq16 : tq;
      std::vector<float> D(nq * k);
      std::vector<int64_t> I(nq * k);
      GpuSearchStats st;
      auto run = [&] {
        if (variant != kBF) {
          index.search(nq, hq.data(), k, p, D.data(), I.data(), &st);
        } else {
          bf.search(nq, hq.data(), k, D.data(), I.data());
        }
      };
      const double t = time_median(run, quick ? 0.2 : 1.0, 5);
      // Recall over the first ngt queries, searched in batches of nq.
      std::vector<int64_t> Ir(ngt * k);
      std::vector<float> Dr(ngt * k);
      for (size_t q0 = 0; q0 < ngt; q0 += nq) {
        const size_t c = std::min(nq, ngt - q0);
        if (variant != kBF) {
          index.search(c, hq.data() + q0 * d, k, p, Dr.data() + q0 * k, Ir.data() + q0 * k);
        } else {
          bf.search(c, hq.data() + q0 * d, k, Dr.data() + q0 * k, Ir.data() + q0 * k);
        }
      }
      Row r;
      r.config = cfg;
      r.method = kNames[variant];
      r.nq = nq;
      r.ms = t * 1e3;
      r.qps = nq / t;
      r.recall = recall_at(Ir, gt, ngt, k);
      r.top1 = top1_in(Ir, gt, ngt, k);
      r.gemm = variant != kBF && st.used_gemm;
      double bytes;
      if (variant != kBF) {
        // Fused scan: one pass over the codes per 32 queries (16 up to nq = 16); GEMM path: one dequantizing pass
        // per 4096 queries — the code bytes read once per pass.
        const size_t passes = r.gemm ? 1 : (nq + 31) / 32;
        bytes = code_bytes * passes;
      } else {
        bytes = double(nb) * d * 2;
      }
      r.gbps = bytes / t / 1e9;
      r.copy_frac = bytes / t / bw;
      rows.push_back(r);
      char extra[160] = "";
      if (variant == 0 || variant == 2) {  // stage breakdown of one more run (device events)
        GpuSearchParams pt = p;
        pt.collect_timings = true;
        GpuSearchStats s2;
        index.search(nq, hq.data(), k, pt, D.data(), I.data(), &s2);
        std::snprintf(extra, sizeof extra, "  [device ms: prepare %.3f scan %.3f merge %.3f rerank %.3f]", s2.ms_prepare,
                      s2.ms_scan, s2.ms_merge, s2.ms_rerank);
      }
      std::printf("%-14s nq=%5zu %-17s %9.1f QPS  %8.3f ms  10-recall@10 %.4f  1-recall@10 %.3f  %7.1f GB/s (%.0f%% of copy)%s%s\n",
                  cfg, nq, r.method.c_str(), r.qps, r.ms, r.recall, r.top1, r.gbps, 100 * r.copy_frac,
                  r.gemm ? "  [GEMM path]" : "", extra);
      std::fflush(stdout);
      if (tsv)
        std::fprintf(tsv, "%s\t%s\t%zu\t%.6f\t%.1f\t%.4f\t%.4f\t%.1f\t%.3f\n", cfg, r.method.c_str(), nq, t, r.qps,
                     r.recall, r.top1, r.gbps, r.copy_frac);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string configs = "1536,128";
  const char* out = nullptr;
  Filter filter;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--configs") && i + 1 < argc) configs = argv[++i];
    else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!std::strcmp(argv[i], "--nq") && i + 1 < argc) {
      filter.nqs.clear();
      for (char* t = std::strtok(argv[++i], ","); t; t = std::strtok(nullptr, ",")) filter.nqs.push_back(std::stoul(t));
    } else if (!std::strcmp(argv[i], "--variants") && i + 1 < argc) filter.variants = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--configs 1536,128] [--nq 1,16,256,4096] [--variants 01234567] [--out file.tsv]\n"
                   "variants: 0 TQ rr4, 1 TQ rr16 (nq <= 16), 2 +fp16 refine x4, 3 +fp16 refine x16, 4 +fp32 refine x4, "
                   "5 fp16 brute force, 6 TQ rr4 fused scan only, 7 TQ rr4 int8 GEMM only\n",
                   argv[0]);
      return 2;
    }
  }
  try {
    if (device_count() == 0) {
      std::fprintf(stderr, "bench_gpu: no CUDA device: %s\n", no_device_reason().c_str());
      return 1;
    }
    std::printf("device 0: %s\n", device_description(0).c_str());
    const double bw = copy_bandwidth();
    std::printf("device-to-device copy bandwidth (read + write): %.0f GB/s\n", bw / 1e9);
    FILE* tsv = out ? std::fopen(out, "w") : nullptr;
    if (tsv) std::fprintf(tsv, "config\tmethod\tnq\tseconds\tqps\trecall10\trecall1at10\tgbps\tcopy_frac\n");
    std::vector<Row> rows;
    if (configs.find("1536") != std::string::npos)
      run_config(quick ? 100000 : 1000000, 1536, Metric::kInnerProduct, true, bw, quick, filter, rows, tsv);
    if (configs.find("128") != std::string::npos)
      run_config(quick ? 1000000 : 10000000, 128, Metric::kL2, false, bw, quick, filter, rows, tsv);
    if (tsv) std::fclose(tsv);
    std::printf("\nSummary (QPS ratio TQ / fp16 brute force):\n");
    for (const Row& r : rows) {
      if (r.method != "TQ4+renorm rr4" && r.method != "TQ4 +fp16 refine x4" && r.method != "TQ4 +fp32 refine x4")
        continue;
      for (const Row& b : rows)
        if (b.config == r.config && b.nq == r.nq && b.method == "fp16 brute force")
          std::printf("  %-16s nq=%5zu  %-20s %9.1f QPS (recall %.3f)  BF %9.1f QPS (recall %.3f)  ratio %.2fx\n",
                      r.config.c_str(), r.nq, r.method.c_str(), r.qps, r.recall, b.qps, b.recall, r.qps / b.qps);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
