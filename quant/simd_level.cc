// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#include "quant/simd_level.h"

#include <cstdlib>
#include <cstring>

namespace tqsearch {
namespace {

SimdLevel detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return SimdLevel::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    return SimdLevel::kAvx2;
  }
#endif
  return SimdLevel::kScalar;
}

SimdLevel choose() {
  SimdLevel level = detected_simd_level();
  if (const char* env = std::getenv("TQSEARCH_SIMD")) {
    SimdLevel want = level;
    if (std::strcmp(env, "scalar") == 0) want = SimdLevel::kScalar;
    if (std::strcmp(env, "avx2") == 0) want = SimdLevel::kAvx2;
    if (std::strcmp(env, "avx512") == 0) want = SimdLevel::kAvx512;
    if (static_cast<int>(want) < static_cast<int>(level)) level = want;
  }
  return level;
}

}  // namespace

SimdLevel detected_simd_level() {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel simd_level() {
  static const SimdLevel level = choose();
  return level;
}

std::string_view simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "unknown";
}

bool simd_level_supported(SimdLevel level) {
  return static_cast<int>(level) <= static_cast<int>(detected_simd_level());
}

std::vector<SimdLevel> all_simd_levels() { return {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}; }

}  // namespace tqsearch
