// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Exact brute-force k-NN on one GPU (cuBLAS GEMM + the same block top-k as the TurboQuant index): the
/// baseline of bench/gpu and the ground truth of the GPU tests. fp16 stores the vectors in half precision
/// (tensor-core GEMM, fp32 accumulation, fp16 scores — what `topk(Q @ Xᵀ)` in PyTorch fp16 does); fp32 keeps
/// float32 vectors and scores (exact up to float rounding). CUDA-free header.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "quant/flat_scanner.h"

namespace tqsearch::gpu {

enum class BruteForcePrecision : uint32_t { kFp16 = 0, kFp32 = 1 };

class GpuBruteForce {
 public:
  /// @param d  dimension >= 1; @param device  CUDA device ordinal
  GpuBruteForce(int d, Metric metric, BruteForcePrecision precision, int device = 0);
  ~GpuBruteForce();
  GpuBruteForce(const GpuBruteForce&) = delete;
  GpuBruteForce& operator=(const GpuBruteForce&) = delete;

  int d() const;
  size_t ntotal() const;
  size_t device_memory_bytes() const;

  /// @param x  (n, d) float32 host
  void add(size_t n, const float* x);
  /// @param x  (n, d) float32 device pointer on this object's device
  void add_from_device(size_t n, const float* x);
  /// @param queries (nq, d) float32 host; k in 1..1024; distances/labels (nq, k) host, as FlatScanner
  ///        (IP descending, L2 ascending; padding −1 / ∓FLT_MAX).
  void search(size_t nq, const float* queries, int k, float* distances, int64_t* labels) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tqsearch::gpu
