// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// RAII device memory and device selection. Allocation failures throw tqsearch::Error (out-of-memory message
/// with the requested and free sizes); destructors never throw.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "gpu/internal/cuda_check.cuh"

namespace tqsearch::gpu::internal {

/// Sets the current device for its lifetime and restores the previous one.
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = -1;
};

/// cudaMalloc with an out-of-memory message; returns nullptr for bytes == 0.
void* device_alloc(size_t bytes, const char* what);
void device_free(void* p) noexcept;
void* pinned_alloc(size_t bytes, const char* what);
void pinned_free(void* p) noexcept;

/// Owning device array of T on the current device at construction.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n, const char* what = "buffer") { resize(n, what); }
  ~DeviceBuffer() { device_free(ptr_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      device_free(ptr_);
      ptr_ = std::exchange(o.ptr_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  /// Discards the contents; reallocates only when growing.
  void resize(size_t n, const char* what = "buffer") {
    if (n <= n_ && ptr_ != nullptr) {
      return;
    }
    device_free(ptr_);
    ptr_ = nullptr;
    n_ = 0;
    ptr_ = static_cast<T*>(device_alloc(n * sizeof(T), what));
    n_ = n;
  }
  /// Grows to at least n elements keeping the first `keep` elements (stream-ordered copy on `stream`).
  void grow_keep(size_t n, size_t keep, cudaStream_t stream, const char* what = "buffer") {
    if (n <= n_) {
      return;
    }
    T* fresh = static_cast<T*>(device_alloc(n * sizeof(T), what));
    if (keep > 0) {
      cudaError_t err = cudaMemcpyAsync(fresh, ptr_, keep * sizeof(T), cudaMemcpyDeviceToDevice, stream);
      if (err == cudaSuccess) {
        err = cudaStreamSynchronize(stream);
      }
      if (err != cudaSuccess) {
        device_free(fresh);
        throw_cuda_error(err, "grow_keep copy", __FILE__, __LINE__);
      }
    }
    device_free(ptr_);
    ptr_ = fresh;
    n_ = n;
  }
  void reset() {
    device_free(ptr_);
    ptr_ = nullptr;
    n_ = 0;
  }
  T* get() const { return ptr_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

/// Owning page-locked host array.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { pinned_free(ptr_); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void resize(size_t n, const char* what = "pinned buffer") {
    if (n <= n_ && ptr_ != nullptr) {
      return;
    }
    pinned_free(ptr_);
    ptr_ = nullptr;
    n_ = 0;
    ptr_ = static_cast<T*>(pinned_alloc(n * sizeof(T), what));
    n_ = n;
  }
  T* get() const { return ptr_; }
  size_t size() const { return n_; }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

}  // namespace tqsearch::gpu::internal
