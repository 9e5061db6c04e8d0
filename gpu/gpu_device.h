// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Which CUDA devices this process can use. CUDA-free header: callable from code built without nvcc flags.

#include <string>

namespace tqsearch::gpu {

/// Number of visible CUDA devices. Returns 0, never throws, when there is no driver, no device, or the
/// runtime reports an error (the reason is then in no_device_reason()).
int device_count();

/// Empty when device_count() > 0; otherwise why there is none, e.g. "cudaGetDeviceCount: no CUDA-capable
/// device is detected (cudaErrorNoDevice)". Tests print it when they skip.
std::string no_device_reason();

/// "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB". Throws tqsearch::Error for an invalid device.
std::string device_description(int device);

}  // namespace tqsearch::gpu
