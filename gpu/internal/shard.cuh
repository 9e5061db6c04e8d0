// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// One GPU's part of a GpuIndexTurboQuant: its codes, scan layout, factors, stream, cuBLAS handle and search
/// workspace.

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <memory>

#include "gpu/internal/block_topk.cuh"
#include "gpu/internal/device_buffer.cuh"
#include "gpu/internal/gpu_quantizer.cuh"
#include "gpu/internal/scan_kernels.cuh"

#include <vector>

namespace tqsearch::gpu::internal {

struct Shard {
  Shard(const TurboQuantizer& tq, int device);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  /// Capacity for at least `n` vectors, keeping the first `size` (codes, tiles, factors); new tiles zeroed.
  void reserve(size_t n);
  size_t memory_bytes() const {
    return codes.bytes() + tiles.bytes() + f_norm.bytes() + f_renorm.bytes() + f_sqnorm.bytes() + raw.bytes();
  }

  int device;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  std::unique_ptr<GpuQuantizer> gq;
  size_t size = 0;      // committed vectors
  size_t capacity = 0;  // multiple of kTile
  DeviceBuffer<uint8_t> codes;   // capacity × code_size
  DeviceBuffer<uint4> tiles;     // capacity/32 × chunks × 32
  DeviceBuffer<float> f_norm, f_renorm, f_sqnorm;  // capacity: ‖x‖, ‖x‖/ρ, ‖x‖²
  // Raw vectors for the exact refine stage (capacity × raw_row_bytes; none when raw_row_bytes == 0).
  size_t raw_row_bytes = 0;
  bool raw_fp16 = false;
  DeviceBuffer<uint8_t> raw;

  // Workspace.
  DeviceBuffer<float> xbuf;
  DeviceBuffer<unsigned long long> flag, flag_range;
  DeviceBuffer<float> queries, rotated, qnorm, qscale, sketch;
  DeviceBuffer<int8_t> q8, dequant8;
  DeviceBuffer<int> qsum;  // Σ of each query's q8 (nibble-mode ½-offset term)
  DeviceBuffer<int32_t> scores32;
  DeviceBuffer<Cand> cand, merged, reranked, result;
  // Page-locked staging of small searches' transfers (a pageable copy synchronizes the host per call).
  PinnedBuffer<float> h_queries, h_qnorm;
  PinnedBuffer<Cand> h_result;
  cudaEvent_t events[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};  // stage timings (collect_timings)
  void create_events();
  /// Fused-scan plan for (n, queries per pass, K), cached (occupancy queries cost host time per search).
  FusedScanPlan plan(size_t n, int nq, int K);
  struct PlanEntry {
    size_t n;
    int nq, K;
    FusedScanPlan plan;
  };
  std::vector<PlanEntry> plans;
};

}  // namespace tqsearch::gpu::internal
