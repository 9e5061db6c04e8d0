// Copyright tqsearch authors. SPDX-License-Identifier: MIT
#pragma once
/// @file
/// The one normalization of cosine indexes (rows at add, queries at search and in the distance computer), so that
/// both sides see the same floats.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>

namespace tqsearch::internal {

/// x / ‖x‖ into out; a zero row stays zero. The float factor float(1/√ss) is the usual path; rows so small that
/// 1/‖x‖ overflows a float (‖x‖ < ~3e−39: every value subnormal) scale in double.
/// @param row  (d) float32
/// @param ss   ‖row‖² summed in double by the caller
/// @param out  (d) float32, may alias row
inline void normalize_row(const float* row, size_t d, double ss, float* out) {
  if (!(ss > 0)) {
    std::fill(out, out + d, 0.0f);
    return;
  }
  const double inv = 1.0 / std::sqrt(ss);
  if (inv < double(FLT_MAX)) {
    const float f = float(inv);
    for (size_t j = 0; j < d; ++j) out[j] = row[j] * f;
  } else {
    for (size_t j = 0; j < d; ++j) out[j] = float(double(row[j]) * inv);
  }
}

}  // namespace tqsearch::internal
