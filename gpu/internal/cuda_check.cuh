// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Checked CUDA / cuBLAS calls: every failure becomes a tqsearch::Error naming the call, the device and the
/// CUDA error; out-of-memory says how much was asked for and how much is free. Never aborts.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "quant/error.h"

namespace tqsearch::gpu::internal {

/// Throws tqsearch::Error for a failed CUDA runtime call. `what` names the call site.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* what, const char* file, int line);

/// Checks the last launch error (kernel configuration, missing image for this architecture).
void check_launch(const char* kernel, const char* file, int line);

/// cudaFuncSetAttribute(kernel, MaxDynamicSharedMemorySize, optin) on the current device `device`, done once per
/// (kernel, device) in the process: the value is always the device's opt-in maximum, so the driver's per-function
/// state never changes after the first call and later launches skip the call (a few µs of host time per launch at
/// nq = 1). Thread-safe: a second thread waits until the first has set it. The memo mirrors driver state that
/// lives as long as the device's primary context: tqsearch never calls cudaDeviceReset, and a program that does
/// must not use tqsearch GPU indexes across the reset.
void set_max_dynamic_smem_once(const void* kernel, int device, int optin);

}  // namespace tqsearch::gpu::internal

#define TQ_CUDA_CHECK(call)                                                                 \
  do {                                                                                      \
    cudaError_t tq_cuda_err_ = (call);                                                      \
    if (tq_cuda_err_ != cudaSuccess)                                                        \
      ::tqsearch::gpu::internal::throw_cuda_error(tq_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define TQ_CUBLAS_CHECK(call)                                                                \
  do {                                                                                       \
    cublasStatus_t tq_cublas_st_ = (call);                                                   \
    if (tq_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                              \
      ::tqsearch::gpu::internal::throw_cublas_error(tq_cublas_st_, #call, __FILE__, __LINE__); \
  } while (0)

/// After every kernel launch: TQ_CHECK_LAUNCH("scan_kernel");
#define TQ_CHECK_LAUNCH(name) ::tqsearch::gpu::internal::check_launch(name, __FILE__, __LINE__)

namespace tqsearch::gpu::internal {

/// Before launching `kernel` with `bytes` of dynamic shared memory: lets it use up to the current device's opt-in
/// maximum (a clear error when `bytes` exceeds that). Always the same value per device, so searches running
/// concurrently from several host threads (shards on one device, several indexes) cannot lower the limit between
/// another thread's call and its launch, as setting each launch's own size could.
template <typename Kernel>
void allow_dynamic_smem(Kernel kernel, size_t bytes, const char* what) {
  int dev = 0, optin = 0;
  TQ_CUDA_CHECK(cudaGetDevice(&dev));
  TQ_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  TQ_CHECK(bytes <= size_t(optin), what << ": needs " << bytes << " bytes of shared memory per block, device " << dev
                                        << " allows " << optin);
  set_max_dynamic_smem_once(reinterpret_cast<const void*>(kernel), dev, optin);
}

}  // namespace tqsearch::gpu::internal
