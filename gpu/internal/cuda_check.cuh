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
