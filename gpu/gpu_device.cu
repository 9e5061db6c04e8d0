// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "gpu/gpu_device.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "gpu/internal/cuda_check.cuh"
#include "gpu/internal/device_buffer.cuh"
#include "quant/error.h"

namespace tqsearch::gpu {
namespace {

struct DeviceCount {
  int count = 0;
  std::string reason;
};

DeviceCount query_devices() {
  DeviceCount r;
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the non-sticky error so later calls start clean
    r.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
    return r;
  }
  if (n == 0) {
    r.reason = "cudaGetDeviceCount returned 0 devices";
    return r;
  }
  r.count = n;
  return r;
}

}  // namespace

int device_count() { return query_devices().count; }

std::string no_device_reason() { return query_devices().reason; }

std::string device_description(int device) {
  const int n = device_count();
  TQ_CHECK(device >= 0 && device < n, "device " << device << " is not a visible CUDA device (" << n << " visible)");
  cudaDeviceProp p{};
  TQ_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  std::ostringstream os;
  os << p.name << ", sm_" << p.major << p.minor << ", " << p.multiProcessorCount << " SMs, "
     << double(p.totalGlobalMem) / double(1ull << 30) << " GiB, L2 " << p.l2CacheSize / (1 << 20) << " MiB";
  return os.str();
}

namespace internal {

void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error
  int dev = -1;
  cudaGetDevice(&dev);
  std::ostringstream os;
  os << "CUDA error on device " << dev << ": " << cudaGetErrorString(err) << " (" << cudaGetErrorName(err)
     << ") in " << what << " at " << file << ":" << line;
  if (err == cudaErrorMemoryAllocation) {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
      os << " [GPU out of memory: " << free_b / (1 << 20) << " MiB free of " << total_b / (1 << 20) << " MiB]";
    }
  }
  throw Error(os.str());
}

void throw_cublas_error(cublasStatus_t st, const char* what, const char* file, int line) {
  int dev = -1;
  cudaGetDevice(&dev);
  std::ostringstream os;
  os << "cuBLAS error on device " << dev << ": " << cublasGetStatusName(st) << " (" << cublasGetStatusString(st)
     << ") in " << what << " at " << file << ":" << line;
  throw Error(os.str());
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw_cuda_error(err, kernel, file, line);
  }
}

DeviceScope::DeviceScope(int device) {
  TQ_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) {
    TQ_CUDA_CHECK(cudaSetDevice(device));
  }
}

DeviceScope::~DeviceScope() {
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur != previous_ && previous_ >= 0) {
    cudaSetDevice(previous_);
  }
}

void* device_alloc(size_t bytes, const char* what) {
  if (bytes == 0) {
    return nullptr;
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();
    int dev = -1;
    cudaGetDevice(&dev);
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    std::ostringstream os;
    if (err == cudaErrorMemoryAllocation) {
      os << "GPU out of memory on device " << dev << " allocating " << what << ": asked for " << bytes << " bytes ("
         << double(bytes) / double(1 << 20) << " MiB), " << free_b / (1 << 20) << " MiB free of "
         << total_b / (1 << 20) << " MiB";
    } else {
      os << "cudaMalloc of " << bytes << " bytes for " << what << " failed on device " << dev << ": "
         << cudaGetErrorString(err) << " (" << cudaGetErrorName(err) << ")";
    }
    throw Error(os.str());
  }
  return p;
}

void device_free(void* p) noexcept {
  if (p != nullptr) {
    cudaFree(p);
  }
}

void set_max_dynamic_smem_once(const void* kernel, int device, int optin) {
  // A memo of driver state (which functions already carry the attribute), not program state: guarded, append-only.
  struct Memo {
    std::mutex mu;
    std::vector<std::pair<const void*, int>> done;
  };
  static Memo memo;
  std::lock_guard<std::mutex> lock(memo.mu);
  for (const auto& e : memo.done)
    if (e.first == kernel && e.second == device) return;
  TQ_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
  memo.done.emplace_back(kernel, device);
}

void* pinned_alloc(size_t bytes, const char* what) {
  if (bytes == 0) {
    return nullptr;
  }
  void* p = nullptr;
  cudaError_t err = cudaMallocHost(&p, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();
    std::ostringstream os;
    os << "cudaMallocHost of " << bytes << " bytes for " << what << " failed: " << cudaGetErrorString(err);
    throw Error(os.str());
  }
  return p;
}

void pinned_free(void* p) noexcept {
  if (p != nullptr) {
    cudaFreeHost(p);
  }
}

}  // namespace internal
}  // namespace tqsearch::gpu
