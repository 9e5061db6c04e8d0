// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file Helpers of the GPU tests: device check, seeded data, small fvecs reader, CPU references.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gpu/gpu_device.h"
#include "quant/flat_scanner.h"

/// Skips the test, with the reason, when this machine has no usable CUDA device.
#define TQ_REQUIRE_GPU()                                                                   \
  do {                                                                                     \
    if (::tqsearch::gpu::device_count() == 0)                                              \
      GTEST_SKIP() << "no CUDA device: " << ::tqsearch::gpu::no_device_reason();           \
  } while (0)

namespace tqsearch::gpu::testing {

/// n × d Gaussian mixture (nclusters centers N(0,1), spread `sigma`), seeded; printed by the caller.
std::vector<float> clustered(size_t n, int d, int nclusters, float sigma, uint64_t seed);

/// First `max_rows` rows of an fvecs file (empty when the file does not exist). Sets *d.
std::vector<float> read_fvecs(const std::string& path, size_t max_rows, int* d);

/// Looks for `rel` (e.g. "siftsmall/base.fvecs") in TQSEARCH_GPU_DATA_DIR, then TQSEARCH_DATA_DIR; "" if absent.
std::string find_data(const std::string& rel);

/// CPU reference search with FlatScanner over CPU-encoded (or given) row codes.
void cpu_search(const TurboQuantizer& tq, Metric metric, const std::vector<uint8_t>& codes, size_t nq,
                const float* queries, int k, const FlatSearchParams& params, std::vector<float>* D,
                std::vector<int64_t>* I);

}  // namespace tqsearch::gpu::testing
