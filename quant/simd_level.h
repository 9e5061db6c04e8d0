// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// Run-time SIMD dispatch. The level is detected once per process (CPUID) and can be lowered, never raised,
/// with the environment variable TQSEARCH_SIMD=scalar|avx2|avx512 (for tests and benchmarks).

#include <string_view>
#include <vector>

namespace tqsearch {

enum class SimdLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

/// Highest level this CPU (and this build) supports.
SimdLevel detected_simd_level();
/// Level the kernels use: detected_simd_level() lowered by TQSEARCH_SIMD. Chosen once, then constant.
SimdLevel simd_level();
/// "scalar", "avx2", "avx512".
std::string_view simd_level_name(SimdLevel level);
/// Whether `level` can run here (<= detected_simd_level()).
bool simd_level_supported(SimdLevel level);
/// Every level, lowest first (for parameterized tests and benchmarks).
std::vector<SimdLevel> all_simd_levels();

}  // namespace tqsearch
